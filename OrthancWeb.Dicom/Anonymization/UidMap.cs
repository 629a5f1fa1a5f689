using System.Collections.Concurrent;
using System.Numerics;

namespace OrthancWeb.Dicom.Anonymization;

/// <summary>
/// Old UID to new UID, shared by every instance of one operation so that references between them (study, series,
/// frame of reference, referenced SOP instances) still point at each other afterwards (PS3.15 §E.3.9).
/// </summary>
public sealed class UidMap
{
    private readonly ConcurrentDictionary<string, string> _map = new(StringComparer.Ordinal);

    public string this[string oldUid] => _map.GetOrAdd(oldUid.TrimEnd('\0', ' '), _ => NewUid());

    public int Count => _map.Count;

    /// <summary>A UUID-derived UID under the 2.25 root (PS3.5 §B.2): unique without any registration.</summary>
    public static string NewUid()
    {
        Span<byte> bytes = stackalloc byte[17];
        Guid.NewGuid().TryWriteBytes(bytes[..16], bigEndian: true, out _);
        bytes[16] = 0;
        // BigInteger reads little endian: reverse into a positive number.
        var le = bytes[..16].ToArray();
        Array.Reverse(le);
        return "2.25." + new BigInteger(le, isUnsigned: true).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
