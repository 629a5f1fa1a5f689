namespace OrthancWeb.Index;

/// <summary>
/// What the index's single writer knows to exist: patients, studies and series by public ID, and the number of
/// instances in each series. It spares the ingest path three lookups and a count per instance. What a batch finds or
/// creates is known only once that batch commits; a deletion or a failed transaction forgets everything.
/// </summary>
public sealed class HierarchyCache
{
    private readonly Dictionary<string, long> _known = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _uncommitted = new(StringComparer.Ordinal);
    private readonly Dictionary<long, int> _seriesCounts = [];

    /// <summary>The row ID of a patient, study or series, as known or as found by the transaction under way.</summary>
    internal bool TryGetParent(string publicId, out long id) =>
        _known.TryGetValue(publicId, out id) || _uncommitted.TryGetValue(publicId, out id);

    internal void AddParent(string publicId, long id) => _uncommitted[publicId] = id;

    internal bool TryGetSeriesCount(long seriesId, out int count) => _seriesCounts.TryGetValue(seriesId, out count);

    internal void SetSeriesCount(long seriesId, int count) => _seriesCounts[seriesId] = count;

    /// <summary>The transaction under way committed: what it found or created exists.</summary>
    internal void Committed()
    {
        if (_uncommitted.Count == 0) return;
        foreach (var (publicId, id) in _uncommitted) _known[publicId] = id;
        _uncommitted.Clear();
    }

    /// <summary>The one way to invalidate: after any deletion, and after a failed transaction.</summary>
    internal void Forget()
    {
        _known.Clear();
        _uncommitted.Clear();
        _seriesCounts.Clear();
    }
}
