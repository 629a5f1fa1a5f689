using OrthancWeb.Audit;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Security;

namespace OrthancWeb.Modification;

/// <summary>
/// /tools/bulk-modify and /tools/bulk-anonymize (Orthanc 1.9.4): the instances of all the resources listed go through
/// one modifier or anonymizer, so that UIDs map alike across them (two instances of one series, listed apart, land in
/// one new series), and are stored through the one ingest path. The answer lists what now holds the copies.
/// </summary>
public sealed class BulkModification(IndexQueries queries, ModificationService modification, IndexWriter writer, IAuditTrail? audit = null)
{
    /// <summary>The instances under the resources, each once; an unknown resource is refused (404) before anything is written.</summary>
    public async Task<IReadOnlyList<string>> InstancesOfAsync(IBulkRequest request, CancellationToken ct)
    {
        var instances = new List<string>();
        foreach (var id in request.ResourceIds())
        {
            var resource = await queries.GetAsync(id, null, ct) ?? throw new KeyNotFoundException($"Unknown resource: {id}");
            instances.AddRange(await queries.RelativesAsync(id, resource.Level, ResourceLevel.Instance, ct) ?? []);
        }
        return instances.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The request's options, checked (a 400 with the reason) before a job is submitted. Whatever the level, changing an
    /// identifier in bulk needs "Force" (orthanc 1.10.1 asks it even for PatientID at patient level, where /modify does not).
    /// </summary>
    public static ModificationOptions OptionsOf(BulkModificationRequest request)
    {
        var options = request.ToOptions(request.ModificationLevel());
        if (!request.Force)
            foreach (var tag in options.Replace.Keys.Where(Identifiers.Contains))
                throw new DicomValidationException(
                    $"Marking tag \"{DicomDictionary.Find(tag)?.Keyword}\" as to be replaced requires the \"Force\" option to be set to true");
        return options;
    }

    private static readonly HashSet<DicomTag> Identifiers =
        [DicomTags.PatientID, DicomTags.StudyInstanceUID,
         DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID];

    public async Task<BulkModificationResult> ModifyAsync(BulkModificationRequest request, UidMap uids, IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "modify");
        var options = OptionsOf(request);
        var modifier = new DicomModifier(options, uids);
        var transcode = request.TranscodeTarget();
        // Keeping the SOP Instance UID replaces the stored instance: modification in place.
        var inPlace = options.Keep.Contains(DicomTags.SOPInstanceUID);
        return await RunAsync(request, f => Transcoded(modifier.Modify(f), transcode), new CopyProvenance("modification", "ModifiedFrom"), inPlace, isAnonymization: false, progress, ct);
    }

    public async Task<BulkModificationResult> AnonymizeAsync(BulkAnonymizationRequest request, UidMap uids, IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "anonymize");
        var anonymizer = new Anonymizer(request.ToOptions(), uids);
        var transcode = request.TranscodeTarget();
        return await RunAsync(request, f => Transcoded(anonymizer.Anonymize(f), transcode), new CopyProvenance("anonymization", "AnonymizedFrom"), overwrite: false, isAnonymization: true, progress, ct);
    }

    private static DicomFile Transcoded(DicomFile file, TransferSyntax? to) => to is null ? file : OrthancWeb.Dicom.Imaging.Transcoder.TranscodeFile(file, to);

    private async Task<BulkModificationResult> RunAsync<T>(T request, Func<DicomFile, DicomFile> transform, CopyProvenance provenance, bool overwrite, bool isAnonymization,
        IProgress<(int Done, int Total)>? progress, CancellationToken ct) where T : ResourceChangeRequest, IBulkRequest
    {
        var instances = await InstancesOfAsync(request, ct);
        var stored = await modification.StoreTransformedAsync(instances, transform, provenance, overwrite, request.Permissive, progress, ct);
        if (!request.KeepSource)
            for (var i = 0; i < instances.Count; i++)
                if (stored[i] is { } copy && copy.InstanceId != instances[i])
                    await writer.DeleteAsync(instances[i], ResourceLevel.Instance, ct);
        var result = new BulkModificationResult(isAnonymization, instances.Count, stored.Count(r => r is null), Altered(stored));
        audit?.Record(new AuditEvent(isAnonymization ? AuditActions.Anonymize : AuditActions.Modify, AuditOutcome.Success)
        {
            Details = $"bulk {provenance.Operation} of {string.Join(", ", request.ResourceIds())}: {instances.Count - result.FailedInstancesCount} instances copied" +
                (request.KeepSource ? "" : "; originals deleted"),
        });
        return result;
    }

    /// <summary>The new instances, then the series, studies and patients holding them: each level in order of its IDs, as Orthanc lists them.</summary>
    private static List<(ResourceLevel, string)> Altered(IEnumerable<IngestResult?> stored)
    {
        var copies = stored.OfType<IngestResult>().ToList();
        IEnumerable<(ResourceLevel, string)> Level(ResourceLevel level, Func<IngestResult, string?> id) =>
            copies.Select(id).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select(i => (level, i));
        return [.. Level(ResourceLevel.Instance, c => c.InstanceId), .. Level(ResourceLevel.Series, c => c.SeriesId),
            .. Level(ResourceLevel.Study, c => c.StudyId), .. Level(ResourceLevel.Patient, c => c.PatientId)];
    }
}
