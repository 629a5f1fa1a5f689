using OrthancWeb.Audit;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Security;

namespace OrthancWeb.Modification;

/// <summary>
/// Merging and splitting studies (Orthanc Book, "Split/merge of DICOM studies"): the moved instances are copies made
/// by the toolkit's modifier and stored through the one ingest path, the originals deleted afterwards unless kept.
/// Checks refuse with Orthanc's reasons (404 for a resource that is unknown or in the wrong place) before anything is
/// written, so a job is only submitted for a request that can run.
/// </summary>
public sealed class StudyReorganization(IndexQueries queries, ModificationService modification, IndexWriter writer, IAuditTrail? audit = null)
{
    /// <summary>The instances a merge would move into <paramref name="targetStudy"/>, or the reason it cannot.</summary>
    public async Task<IReadOnlyList<string>> CheckMergeAsync(string targetStudy, MergeStudyRequest request, CancellationToken ct)
    {
        var resources = request.ResourceIds();
        if (await queries.GetAsync(targetStudy, ResourceLevel.Study, ct) is null)
            throw new KeyNotFoundException($"Cannot merge into an unknown study: {targetStudy}");
        var instances = new List<string>();
        foreach (var id in resources)
        {
            var resource = await queries.GetAsync(id, null, ct) ?? throw new KeyNotFoundException($"Cannot find this resource: {id}");
            var study = resource.Level switch
            {
                ResourceLevel.Study => id,
                ResourceLevel.Series => resource.ParentId,
                ResourceLevel.Instance => await queries.RelativesAsync(id, ResourceLevel.Instance, ResourceLevel.Study, ct) is [var parent, ..] ? parent : null,
                _ => throw new KeyNotFoundException($"This resource is neither a study, nor a series, nor an instance: {id} is a Patient"),
            };
            if (study == targetStudy)
                throw new KeyNotFoundException(resource.Level == ResourceLevel.Study
                    ? $"Cannot merge a study into the same study: {id}"
                    : $"Cannot merge {resource.Level.ToString().ToLowerInvariant()} {id} into its parent study {targetStudy}");
            instances.AddRange(await queries.RelativesAsync(id, resource.Level, ResourceLevel.Instance, ct) ?? []);
        }
        return instances.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Moves the resources into the target study: each instance takes the target's patient and study attributes
    /// (<see cref="StudyModules.CopiedFrom"/>, read from one of its instances) and new series and SOP instance UIDs
    /// (one new series per series moved: <paramref name="uids"/> maps them once for the whole merge).
    /// </summary>
    public async Task<StudyReorganizationResult> MergeAsync(string targetStudy, MergeStudyRequest request, UidMap uids,
        IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "merge studies");
        var instances = await CheckMergeAsync(targetStudy, request, ct);
        var model = await queries.RelativesAsync(targetStudy, ResourceLevel.Study, ResourceLevel.Instance, ct) is [var first, ..]
            ? await modification.ReadAsync(first, ct) : null;
        if (model is null) throw new KeyNotFoundException($"Cannot merge into an unknown study: {targetStudy}");
        var (replace, remove) = StudyModules.CopiedFrom(model.Dataset);
        var modifier = new DicomModifier(new ModificationOptions { Level = ModificationLevel.Series, Replace = replace, Remove = remove, Force = true }, uids);
        var stored = await modification.StoreTransformedAsync(instances, modifier.Modify, new CopyProvenance("merge"), overwrite: false, request.Permissive, progress, ct);
        await DeleteOriginalsAsync(instances, stored, request.KeepSource, ct);
        var result = new StudyReorganizationResult(targetStudy, instances.Count, stored.Count(r => r is null));
        Record("merge", targetStudy, model.Dataset, $"{result.InstancesCount - result.FailedInstancesCount} instances of {string.Join(", ", request.ResourceIds())} merged into study {targetStudy}{Kept(request.KeepSource)}");
        return result;
    }

    /// <summary>The instances a split would move out of <paramref name="study"/>, and the study's UID; or the reason it cannot.</summary>
    public async Task<(IReadOnlyList<string> Instances, string StudyUid)> CheckSplitAsync(string study, SplitStudyRequest request, CancellationToken ct)
    {
        request.ToOptions();
        var source = await queries.GetAsync(study, ResourceLevel.Study, ct) ?? throw new KeyNotFoundException($"Cannot split unknown study {study}");
        var instances = new List<string>();
        foreach (var id in request.Series)
        {
            var series = await queries.GetAsync(id, ResourceLevel.Series, ct) ?? throw new KeyNotFoundException($"Unknown series: {id}");
            if (series.ParentId != study) throw new KeyNotFoundException($"This series does not belong to the study to be split: {id}");
            instances.AddRange(series.ChildrenIds);
        }
        foreach (var id in request.Instances)
        {
            var parent = await queries.RelativesAsync(id, ResourceLevel.Instance, ResourceLevel.Study, ct) ?? throw new KeyNotFoundException($"Unknown instance: {id}");
            if (!parent.Contains(study)) throw new KeyNotFoundException($"This instance does not belong to the study to be split: {id}");
            instances.Add(id);
        }
        return (instances.Distinct(StringComparer.Ordinal).ToList(), source.MainDicomTags.GetValueOrDefault(DicomTags.StudyInstanceUID, ""));
    }

    /// <summary>Moves series and instances of a study into a new one (a new Study Instance UID, PS3.3 C.7.2.1).</summary>
    public async Task<StudyReorganizationResult> SplitAsync(string study, SplitStudyRequest request, UidMap uids,
        IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "split studies");
        var (instances, studyUid) = await CheckSplitAsync(study, request, ct);
        var modifier = new DicomModifier(request.ToOptions(), uids);
        var stored = await modification.StoreTransformedAsync(instances, modifier.Modify, new CopyProvenance("split"), overwrite: false, request.Permissive, progress, ct);
        await DeleteOriginalsAsync(instances, stored, request.KeepSource, ct);
        // The modifier maps the old study UID through the same map: this is the UID every moved instance now has.
        var newStudyUid = uids[studyUid];
        var newStudy = stored.FirstOrDefault(r => r is not null)?.StudyId ?? "";
        var result = new StudyReorganizationResult(newStudy, instances.Count, stored.Count(r => r is null), newStudyUid);
        Record("split", study, null, $"{result.InstancesCount - result.FailedInstancesCount} instances of study {study} split into new study {newStudy}{Kept(request.KeepSource)}");
        return result;
    }

    private static string Kept(bool keepSource) => keepSource ? "" : "; originals deleted";

    /// <summary>Deletes each original that was copied (a failed one stays where it was); empty series and studies go with their last instance.</summary>
    private async Task DeleteOriginalsAsync(IReadOnlyList<string> instances, IngestResult?[] stored, bool keepSource, CancellationToken ct)
    {
        if (keepSource) return;
        for (var i = 0; i < instances.Count; i++)
            if (stored[i] is { } copy && copy.InstanceId != instances[i])
                await writer.DeleteAsync(instances[i], ResourceLevel.Instance, ct);
    }

    private void Record(string operation, string study, DicomDataset? model, string details) =>
        audit?.Record(new AuditEvent(AuditActions.Modify, AuditOutcome.Success)
        {
            PatientId = model?.GetString(DicomTags.PatientID), StudyInstanceUid = model?.GetString(DicomTags.StudyInstanceUID),
            ResourceLevel = nameof(ResourceLevel.Study), ResourceId = study, Details = $"{operation}: {details}",
        });
}
