using System.Collections.Concurrent;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace OrthancWeb.Dicom.Anonymization;

/// <summary>
/// Old UID to new UID, shared by every instance of one operation so that references between them (study, series,
/// frame of reference, referenced SOP instances) still point at each other afterwards (PS3.15 §E.3.9).
/// With a secret, the new UIDs are derived from the old ones (keyed SHA-256), so that operations run apart (an
/// automatic route anonymizing instance by instance as they arrive) still agree with each other; without the secret
/// nobody can go back from a new UID to the old one.
/// </summary>
public sealed class UidMap(string? secret = null)
{
    private readonly ConcurrentDictionary<string, string> _map = new(StringComparer.Ordinal);
    private readonly byte[]? _key = secret is null ? null : Encoding.UTF8.GetBytes(secret);

    public string this[string oldUid] => _map.GetOrAdd(oldUid.TrimEnd('\0', ' '), u => _key is null ? NewUid() : FromBytes(Hash("uid", u)));

    public int Count => _map.Count;

    public bool IsDeterministic => _key is not null;

    /// <summary>A stable pseudonym for an identifier (e.g. the Patient ID) when keyed; null otherwise.</summary>
    public string? Pseudonym(string kind, string value) =>
        _key is null ? null : Convert.ToHexString(Hash(kind, value))[..16];

    private byte[] Hash(string kind, string value) => HMACSHA256.HashData(_key!, Encoding.UTF8.GetBytes(kind + "\n" + value));

    /// <summary>A UUID-derived UID under the 2.25 root (PS3.5 §B.2): unique without any registration.</summary>
    public static string NewUid()
    {
        Span<byte> bytes = stackalloc byte[16];
        Guid.NewGuid().TryWriteBytes(bytes, bigEndian: true, out _);
        return FromBytes(bytes);
    }

    /// <summary>2.25 followed by 128 bits as a decimal integer (at most 39 digits, so the UID stays under 64 characters).</summary>
    private static string FromBytes(ReadOnlySpan<byte> bytes) =>
        "2.25." + new BigInteger(bytes[..16], isUnsigned: true, isBigEndian: true).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
