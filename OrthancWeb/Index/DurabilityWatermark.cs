using System.Globalization;

namespace OrthancWeb.Index;

/// <summary>
/// The highest change sequence number known to be on disk, files and index alike. The commit pipeline raises it after
/// each flush and writes it with its next batch (no flush of its own); after a power cut, only the instances past it
/// need their files checked (see <see cref="StorageReconciliation"/>), which then sets it to the last change.
/// </summary>
public sealed class DurabilityWatermark
{
    /// <summary>The global property it is kept under.</summary>
    public const string PropertyName = "DurableChangeSeq";

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
