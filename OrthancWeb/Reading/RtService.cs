using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Rt;
using OrthancWeb.Index;

namespace OrthancWeb.Reading;

/// <summary>An RT Structure Set drawn over a series, and the instance it came from.</summary>
public sealed record RtStructureSource(ResourceInfo Instance, RtStructureSet Structures);

/// <summary>
/// An RT Dose drawn over a series; <paramref name="PrescriptionGy"/> is the Target Prescription Dose of the plan it
/// references (Referenced RT Plan Sequence) when that plan is in the study.
/// </summary>
public sealed record RtDoseSource(ResourceInfo Instance, RtDose Dose, double? PrescriptionGy);

/// <summary>What RT objects of the study reference a series, and those that could not be read, with why.</summary>
public sealed record RtOverlay(IReadOnlyList<RtStructureSource> StructureSets, IReadOnlyList<RtDoseSource> Doses, IReadOnlyList<string> Problems)
{
    public static RtOverlay None { get; } = new([], [], []);
    public bool IsEmpty => StructureSets.Count == 0 && Doses.Count == 0 && Problems.Count == 0;
}

/// <summary>An RT Plan instance and its summary.</summary>
public sealed record RtPlanSummary(ResourceInfo Instance, DicomDataset Dataset, RtPlan Plan);

/// <summary>
/// DICOM-RT for the reading viewer: finds, in the study of a CT or MR series, the RT Structure Sets that reference it
/// (an RT Referenced Series, or its Frame of Reference) and the RT Doses of its Frame of Reference (PS3.3 C.7.4.1:
/// patient coordinates are shared within it), through the index and the stored files; and reads RT Plans for their
/// summary page. Parsed objects are kept by stored file (immutable once written), so reopening a series, or another
/// viewport on it, does not parse again; a slice's drawing is then computed from them in memory.
/// </summary>
public sealed class RtService(IndexQueries queries, InstanceFiles files)
{
    /// <summary>RT instances of a study looked at for one series at most (each is parsed once, then cached).</summary>
    public const int MaximumRtInstances = 64;

    private readonly ParsedCache _cache = new(16);

    /// <summary>The structure sets and doses of the series' study that belong over it; none for a series without a study.</summary>
    public async Task<RtOverlay> OverlayForAsync(ViewerSeries series, CancellationToken ct = default)
    {
        if (series.Study is not { } study) return RtOverlay.None;
        var seriesUid = series.Series.MainDicomTags.GetValueOrDefault(DicomTags.SeriesInstanceUID);
        var frameOfReference = series.FrameOfReferenceUid;
        var structures = new List<RtStructureSource>();
        var doses = new List<(ResourceInfo Instance, RtDose Dose)>();
        var plans = new List<ParsedPlan>();
        var problems = new List<string>();
        var seen = 0;
        foreach (var siblingId in study.ChildrenIds)
        {
            if (await queries.GetAsync(siblingId, ResourceLevel.Series, ct) is not { } sibling) continue;
            var modality = sibling.MainDicomTags.GetValueOrDefault(DicomTags.Modality);
            if (modality is not ("RTSTRUCT" or "RTDOSE" or "RTPLAN")) continue;
            foreach (var instanceId in sibling.ChildrenIds)
            {
                if (++seen > MaximumRtInstances)
                {
                    problems.Add($"The study holds more than {MaximumRtInstances} RT objects; the others are not shown.");
                    goto done;
                }
                if (await queries.GetAsync(instanceId, ResourceLevel.Instance, ct) is not { File: { } file } instance) continue;
                try
                {
                    var parsed = await _cache.GetAsync(file.Uuid, () => Task.Run(() => Parse(modality, file), CancellationToken.None));
                    switch (parsed)
                    {
                        case RtStructureSet set when set.References(seriesUid, frameOfReference):
                            structures.Add(new RtStructureSource(instance, set));
                            break;
                        case RtDose dose when frameOfReference is not null && dose.FrameOfReferenceUid == frameOfReference:
                            doses.Add((instance, dose));
                            break;
                        case ParsedPlan plan:
                            plans.Add(plan);
                            break;
                    }
                }
                catch (Exception ex) when (ex is DicomException or IOException)
                {
                    problems.Add($"{modality} {instance.MainDicomTags.GetValueOrDefault(DicomTags.SOPInstanceUID)} cannot be shown: {ex.Message}");
                }
            }
        }
    done:
        var overlay = doses.Select(d => new RtDoseSource(d.Instance, d.Dose,
            plans.FirstOrDefault(p => p.SopInstanceUid == d.Dose.ReferencedPlanUid)?.Plan.DoseReferences.Max(r => r.TargetPrescriptionDose))).ToList();
        return new RtOverlay(structures, overlay, problems);
    }

    /// <summary>An RT Plan instance's summary; null when the instance is not stored.</summary>
    /// <exception cref="DicomValidationException">The instance is not an RT Plan.</exception>
    public async Task<RtPlanSummary?> PlanAsync(string instanceId, CancellationToken ct = default)
    {
        if (await queries.GetAsync(instanceId, ResourceLevel.Instance, ct) is not { File: { } file } instance) return null;
        var dataset = await Task.Run(() => files.Read(file).Dataset, ct);
        if (dataset.GetString(DicomTags.SOPClassUID)?.Trim() != RtPlan.SopClassUid)
            throw new DicomValidationException("this instance is not an RT Plan (SOP Class " + RtPlan.SopClassUid + ")");
        var parsed = (ParsedPlan)await _cache.GetAsync(file.Uuid, () => Task.Run(() => Parse("RTPLAN", file), CancellationToken.None));
        return new RtPlanSummary(instance, dataset, parsed.Plan);
    }

    /// <summary>The RT object a stored file holds, by its SOP Class (the series' modality is only where we looked).</summary>
    private object Parse(string modality, AttachmentInfo file)
    {
        var header = files.Read(file);
        var sopClass = header.Dataset.GetString(DicomTags.SOPClassUID)?.Trim();
        if (sopClass == RtStructureSet.SopClassUid) return RtStructureSet.Read(header.Dataset);
        if (sopClass == RtPlan.SopClassUid) return new ParsedPlan(RtPlan.Read(header.Dataset), header.Dataset.GetString(DicomTags.SOPInstanceUID)?.Trim() ?? "");
        if (sopClass == RtDose.SopClassUid)
        {
            var whole = files.Read(file, includePixelData: true);
            return RtDose.Read(whole.Dataset, whole.TransferSyntax);
        }
        return modality; // another object in an RT series (a record, an image): nothing to draw
    }

    /// <summary>A plan and its SOP Instance UID, which a dose's Referenced RT Plan Sequence names.</summary>
    private sealed record ParsedPlan(RtPlan Plan, string SopInstanceUid);

    /// <summary>Parsed RT objects by stored file, the least recently used dropped first; a failure is kept too, so a bad file is read once.</summary>
    private sealed class ParsedCache(int capacity)
    {
        private readonly Lock _lock = new();
        private readonly LinkedList<(string Key, Task<object> Value)> _order = new();
        private readonly Dictionary<string, LinkedListNode<(string Key, Task<object> Value)>> _byKey = [];

        public Task<object> GetAsync(string key, Func<Task<object>> parse)
        {
            lock (_lock)
            {
                if (_byKey.TryGetValue(key, out var node))
                {
                    _order.Remove(node);
                    _order.AddFirst(node);
                    return node.Value.Value;
                }
                var task = parse();
                _byKey[key] = _order.AddFirst((key, task));
                while (_order.Count > capacity)
                {
                    _byKey.Remove(_order.Last!.Value.Key);
                    _order.RemoveLast();
                }
                return task;
            }
        }
    }
}
