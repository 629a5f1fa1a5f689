using System.Runtime.CompilerServices;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Security;

namespace OrthancWeb.Modification;

/// <summary>What a copy is made by (for messages) and the metadata naming its original on each new instance, if any.</summary>
public sealed record CopyProvenance(string Operation, string? Metadata = null);

/// <summary>Orthanc's answer to /modify and /anonymize on a patient, study or series: the new resource.</summary>
public sealed record ModifiedResource(string Id, string Path, string PatientId, string Type);

/// <summary>
/// Anonymizes and modifies stored resources for the REST API, the UI and jobs alike: every instance under the
/// resource is read, transformed by the toolkit, and stored again through the one ingest path (so the new resource
/// is durable and indexed before the call returns), with AnonymizedFrom / ModifiedFrom pointing at its original.
/// </summary>
public sealed partial class ModificationService(IndexQueries queries, InstanceFiles files, IngestService ingest, IndexWriter writer, ILogger<ModificationService> logger,
    IAuditTrail? audit = null)
{
    /// <summary>One anonymized instance as a file, not stored (Orthanc's POST /instances/{id}/anonymize).</summary>
    public async Task<byte[]?> AnonymizeInstanceAsync(string instanceId, AnonymizationOptions options, CancellationToken ct, TransferSyntax? transcode = null)
    {
        var source = await ReadAsync(instanceId, ct);
        if (source is null) return null;
        RecordInstance(AuditActions.Anonymize, instanceId, source);
        return Transcode(new Anonymizer(options).Anonymize(source), transcode).ToBytes();
    }

    /// <summary>One modified instance as a file, not stored (Orthanc's POST /instances/{id}/modify).</summary>
    public async Task<byte[]?> ModifyInstanceAsync(string instanceId, ModificationOptions options, CancellationToken ct, TransferSyntax? transcode = null)
    {
        var source = await ReadAsync(instanceId, ct);
        if (source is null) return null;
        RecordInstance(AuditActions.Modify, instanceId, source);
        return Transcode(new DicomModifier(options).Modify(source), transcode).ToBytes();
    }

    /// <summary>The transformed file in the asked transfer syntax (after the change, so what is encoded is what is kept).</summary>
    private static DicomFile Transcode(DicomFile file, TransferSyntax? to) => to is null ? file : Transcoder.TranscodeFile(file, to);

    /// <param name="uids">A keyed map makes separate operations agree (automatic routing, instance by instance).</param>
    public Task<ModifiedResource?> AnonymizeAsync(ResourceLevel level, string id, AnonymizationOptions options, bool keepSource,
        IProgress<(int Done, int Total)>? progress, CancellationToken ct, UidMap? uids = null, TransferSyntax? transcode = null)
    {
        Caller.Demand(Policies.Modify, "anonymize");
        var anonymizer = new Anonymizer(options, uids);
        return AuditedAsync(AuditActions.Anonymize, level, id, keepSource,
            first => TransformAsync(level, id, f => Transcode(anonymizer.Anonymize(f), transcode), "AnonymizedFrom", overwrite: false, keepSource, progress, ct, first));
    }

    public Task<ModifiedResource?> ModifyAsync(ResourceLevel level, string id, ModificationOptions options, bool keepSource,
        IProgress<(int Done, int Total)>? progress, CancellationToken ct, UidMap? uids = null, TransferSyntax? transcode = null)
    {
        Caller.Demand(Policies.Modify, "modify");
        var modifier = new DicomModifier(options, uids);
        // Keeping the SOP Instance UID replaces the stored instance: that is modification in place.
        var inPlace = options.Keep.Contains(OrthancWeb.Dicom.Data.DicomTags.SOPInstanceUID);
        return AuditedAsync(AuditActions.Modify, level, id, keepSource,
            first => TransformAsync(level, id, f => Transcode(modifier.Modify(f), transcode), "ModifiedFrom", overwrite: inPlace, keepSource, progress, ct, first));
    }

    private void RecordInstance(string action, string instanceId, DicomFile source) =>
        audit?.Record(new AuditEvent(action, AuditOutcome.Success)
        {
            PatientId = source.Dataset.GetString(DicomTags.PatientID), StudyInstanceUid = source.Dataset.GetString(DicomTags.StudyInstanceUID),
            ResourceLevel = nameof(ResourceLevel.Instance), ResourceId = instanceId, Details = "answered as a file, not stored",
        });

    /// <summary>
    /// Runs a transformation and records it, success or failure, with the patient and study of the original (taken
    /// from the first instance read, no extra query) and the new resource.
    /// </summary>
    private async Task<ModifiedResource?> AuditedAsync(string action, ResourceLevel level, string id, bool keepSource,
        Func<StrongBox<OriginalIdentity?>, Task<ModifiedResource?>> run)
    {
        var first = new StrongBox<OriginalIdentity?>();
        AuditEvent Event(AuditOutcome outcome, string details) => new(action, outcome)
        {
            PatientId = first.Value?.PatientId, StudyInstanceUid = first.Value?.StudyInstanceUid,
            ResourceLevel = level.ToString(), ResourceId = id, Details = details,
        };
        try
        {
            var result = await run(first);
            if (result is not null)
                audit?.Record(Event(AuditOutcome.Success, $"new {level.ToString().ToLowerInvariant()} {result.Id}{(keepSource || result.Id == id ? "" : "; original deleted")}"));
            return result;
        }
        catch (Exception ex) when (audit is not null && ex is not OperationCanceledException)
        {
            audit.Record(Event(AuditOutcome.SeriousFailure, ex.Message));
            throw;
        }
    }

    /// <summary>The patient and study of a transformation's original.</summary>
    private sealed record OriginalIdentity(string? PatientId, string? StudyInstanceUid);

    /// <summary>A stored instance as a file; null if there is no such instance.</summary>
    public async Task<DicomFile?> ReadAsync(string instanceId, CancellationToken ct)
    {
        var att = await files.FindAsync(instanceId, ct);
        return att is null ? null : DicomFile.Open((await files.ReadAllAsync(att, ct)).AsMemory());
    }

    private async Task<ModifiedResource?> TransformAsync(ResourceLevel level, string id, Func<DicomFile, DicomFile> transform, string fromMetadata,
        bool overwrite, bool keepSource, IProgress<(int Done, int Total)>? progress, CancellationToken ct, StrongBox<OriginalIdentity?>? firstOriginal = null)
    {
        // Null: no such resource at this level.
        if (await queries.RelativesAsync(id, level, ResourceLevel.Instance, ct) is not { } instances) return null;
        var stored = await StoreAllAsync(instances, transform, new CopyProvenance(fromMetadata[..^4].ToLowerInvariant(), fromMetadata), overwrite, permissive: false, progress, ct, firstOriginal);
        var results = stored.Select(r => r!).ToArray();
        if (results.Length == 0) throw new InvalidOperationException($"The {level.ToString().ToLowerInvariant()} has no instance");
        var first = results[0];
        var newId = level switch
        {
            ResourceLevel.Patient => first.PatientId!,
            ResourceLevel.Study => first.StudyId!,
            ResourceLevel.Series => first.SeriesId!,
            _ => first.InstanceId!,
        };
        if (!keepSource && newId != id)
        {
            LogReplaced(logger, level, id, newId);
            await writer.DeleteAsync(id, level, ct);
        }
        return new ModifiedResource(newId, $"/{level.ToCollection()}/{newId}", first.PatientId!, level.ToString());
    }

    /// <summary>
    /// Reads each instance, transforms it and stores the copy through the one ingest path: merge, split and the bulk
    /// operations, which take instances from several resources. The results follow <paramref name="instances"/>; with
    /// <paramref name="permissive"/> (Orthanc's "Permissive") an instance that fails is null and the others go on.
    /// </summary>
    public Task<IngestResult?[]> StoreTransformedAsync(IReadOnlyList<string> instances, Func<DicomFile, DicomFile> transform, CopyProvenance provenance,
        bool overwrite, bool permissive, IProgress<(int Done, int Total)>? progress, CancellationToken ct) =>
        StoreAllAsync(instances, transform, provenance, overwrite, permissive, progress, ct);

    private async Task<IngestResult?[]> StoreAllAsync(IReadOnlyList<string> instances, Func<DicomFile, DicomFile> transform, CopyProvenance provenance,
        bool overwrite, bool permissive, IProgress<(int Done, int Total)>? progress, CancellationToken ct, StrongBox<OriginalIdentity?>? firstOriginal = null)
    {
        var results = new IngestResult?[instances.Count];
        var done = 0;
        // A few instances in flight at once: the index commits them as one group and one flush.
        await Parallel.ForEachAsync(Enumerable.Range(0, instances.Count), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (i, token) =>
        {
            try
            {
                var original = await ReadAsync(instances[i], token) ?? throw new InvalidOperationException($"Instance {instances[i]} disappeared during the operation");
                // Who the original belonged to, taken before the transformation changes it.
                if (firstOriginal is not null && firstOriginal.Value is null)
                    Interlocked.CompareExchange(ref firstOriginal.Value, new OriginalIdentity(original.Dataset.GetString(DicomTags.PatientID), original.Dataset.GetString(DicomTags.StudyInstanceUID)), null);
                var bytes = transform(original).ToBytes();
                // The originals' series, study and patient, named on the copies' new parents as orthanc does.
                var from = new InstanceIdentifiers(original.Dataset.GetString(DicomTags.PatientID) ?? "", original.Dataset.GetString(DicomTags.StudyInstanceUID) ?? "",
                    original.Dataset.GetString(DicomTags.SeriesInstanceUID) ?? "", original.Dataset.GetString(DicomTags.SOPInstanceUID) ?? "");
                // The copy records who asked for it (HttpUsername, empty without a login), as orthanc's copies do.
                var user = Security.Caller.Current?.Identity is { IsAuthenticated: true, Name: { } named } ? named : "";
                var source = new IngestSource(IngestOrigin.RestApi)
                {
                    Username = user,
                    Overwrite = overwrite,
                    Metadata = provenance.Metadata is { } name ? [(name, instances[i]), ("HttpUsername", user)] : [("HttpUsername", user)],
                    ParentMetadata = provenance.Metadata is { } parentName
                        ? [(ResourceLevel.Series, parentName, from.SeriesPublicId), (ResourceLevel.Study, parentName, from.StudyPublicId), (ResourceLevel.Patient, parentName, from.PatientPublicId)]
                        : [],
                };
                var result = await ingest.StoreAsync(bytes, source, token);
                if (result.Status is not (IngestStatus.Success or IngestStatus.AlreadyStored))
                    throw new InvalidOperationException($"Instance {instances[i]} could not be stored after {provenance.Operation}: {result.Reason}");
                results[i] = result;
            }
            catch (Exception ex) when (permissive && ex is not OperationCanceledException)
            {
                LogSkipped(logger, instances[i], provenance.Operation, ex.Message);
            }
            progress?.Report((Interlocked.Increment(ref done), instances.Count));
        });
        return results;
    }

    [LoggerMessage(LogLevel.Warning, "Instance {Id} skipped by a permissive {Operation}: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string id, string operation, string reason);

    [LoggerMessage(LogLevel.Information, "Deleting {Level} {Id}, replaced by {NewId}")]
    private static partial void LogReplaced(ILogger logger, ResourceLevel level, string id, string newId);
}
