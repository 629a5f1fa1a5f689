using System.Collections.Concurrent;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Faults;

/// <summary>
/// What clients were told, recorded as it happened: every instance the server acknowledged (storescu reported
/// Success, or REST answered 200 with its ID), every deletion asked for and whether it was answered, every job
/// submitted. An instance acknowledged and never deleted must be in the index, with its file, after any crash.
/// </summary>
internal sealed class KillLedger
{
    private readonly ConcurrentDictionary<string, (string StudyId, int Round)> _acknowledged = new(StringComparer.Ordinal);
    // Instance ID -> the deletion was answered 200 (it must be gone) or not (it may or may not be).
    private readonly ConcurrentDictionary<string, bool> _deletions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _protected = new(StringComparer.Ordinal);

    public int Round { get; set; }

    public void Acknowledge(GeneratedInstance instance) => _acknowledged[instance.Id] = (instance.StudyId, Round);

    /// <summary>Instances that tests must never delete (the study the jobs work on).</summary>
    public void Protect(GeneratedInstance instance)
    {
        Acknowledge(instance);
        _protected[instance.Id] = 0;
    }

    public int AcknowledgedCount => _acknowledged.Count;
    public int DeletedCount => _deletions.Count(d => d.Value);

    /// <summary>Acknowledged and no deletion asked for: must be there.</summary>
    public IEnumerable<(string Id, int Round)> MustBePresent =>
        _acknowledged.Where(a => !_deletions.ContainsKey(a.Key)).Select(a => (a.Key, a.Value.Round));

    public IEnumerable<string> MustBeGone => _deletions.Where(d => d.Value).Select(d => d.Key);

    /// <summary>Acknowledged in an earlier round, not protected, no deletion asked for yet: what a deletion may target.</summary>
    public List<string> DeletableInstances(int round) =>
        [.. _acknowledged.Where(a => a.Value.Round < round && !_protected.ContainsKey(a.Key) && !_deletions.ContainsKey(a.Key)).Select(a => a.Key).Order(StringComparer.Ordinal)];

    public List<string> DeletableStudies(int round) =>
        [.. _acknowledged.Where(a => a.Value.Round < round && !_protected.ContainsKey(a.Key) && !_deletions.ContainsKey(a.Key))
            .Select(a => a.Value.StudyId).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>The acknowledged instances of a study (what deleting it takes away).</summary>
    public List<string> InstancesOfStudy(string studyId) => [.. _acknowledged.Where(a => a.Value.StudyId == studyId).Select(a => a.Key)];

    /// <summary>Before the request goes out: from now on the instance may be gone.</summary>
    public void DeletionAsked(IEnumerable<string> ids)
    {
        foreach (var id in ids) _deletions.TryAdd(id, false);
    }

    /// <summary>The server answered 200: the instances must stay gone.</summary>
    public void DeletionAnswered(IEnumerable<string> ids)
    {
        foreach (var id in ids) _deletions[id] = true;
    }
}
