using System.Globalization;

namespace OrthancWeb.Index;

/// <summary>
/// The highest change sequence number known to be on disk, files and index alike. The commit pipeline raises it after
/// each flush and writes it with its next batch (no flush of its own); after a power cut, only the instances past it
/// need their files checked (see <see cref="StorageReconciliation"/>), which then sets it to the last change.
/// Servers sharing a PostgreSQL index each keep their own (a row per server identifier): one server's flush says
/// nothing of another's files, and one row for all would make every batch of every server wait for the same row lock.
/// </summary>
public sealed class DurabilityWatermark(ClusterMembership membership)
{
    /// <summary>The global property it is kept under (a single server's), and the prefix of each shared server's.</summary>
    public const string PropertyName = "DurableChangeSeq";

    /// <summary>This server's global property.</summary>
    public string Name { get; } = membership.IsShared ? $"{PropertyName}:{membership.Identity.Identifier}" : PropertyName;

    /// <summary>The identifier of the server a watermark row belongs to, or null for a single server's row.</summary>
    public static string? ServerOf(string propertyName) =>
        propertyName.StartsWith(PropertyName + ":", StringComparison.Ordinal) ? propertyName[(PropertyName.Length + 1)..] : null;

    private long _seq;

    internal long Value => Interlocked.Read(ref _seq);

    internal string ValueText => Value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Everything up to <paramref name="seq"/> was flushed (called by the one flushing stage).</summary>
    internal void Raise(long seq)
    {
        if (seq > Interlocked.Read(ref _seq)) Interlocked.Exchange(ref _seq, seq);
    }

    internal void Reset(long seq) => Interlocked.Exchange(ref _seq, seq);

    internal static long Parse(string? value) => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seq) ? seq : 0;
}
