using System.Text.Json.Nodes;
using OrthancWeb.DicomWeb.Client;
using OrthancWeb.Networking;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Index;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;

namespace OrthancWeb.Routing;

/// <summary>
/// What a routing rule does to one resource: anonymize (with a map keyed per rule, so that instances routed one by
/// one still form one anonymized study), then send to each destination. A retry resumes: it reuses the anonymized
/// copy and skips destinations already served.
/// </summary>
public sealed class RouteJob(ModificationService modification, ModalityClient modalities, DicomWebClient dicomWeb, PseudonymKeys keys) : IJobHandler
{
    public const string JobType = "Route";

    public string Type => JobType;

    public static JsonObject Content(RoutingRule rule, ResourceLevel level, string id) => Job.ContentOf(new RouteParameters
    {
        Description = $"Routing rule {rule.Name}",
        Rule = rule,
        Level = level,
        ParentResources = [id],
    });

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var parameters = job.ContentAs<RouteParameters>();
        var (rule, level, id) = (parameters.Rule, parameters.Level, parameters.ParentResources[0]);
        var result = job.Result?.DeepClone().AsObject() ?? [];
        var target = id;
        if (rule.Anonymize)
        {
            if (result["AnonymizedResource"]?.GetValue<string>() is { } done) target = done;
            else
            {
                var options = new AnonymizationOptions
                {
                    RetainLongFullDates = rule.RetainLongFullDates,
                    RetainDeviceIdentity = rule.RetainDeviceIdentity,
                    RetainPatientCharacteristics = rule.RetainPatientCharacteristics,
                    KeepPrivateTags = rule.KeepPrivateTags,
                };
                var map = new UidMap(await keys.KeyForAsync("rule:" + rule.Name, ct));
                var anonymized = await modification.AnonymizeAsync(level, id, options, keepSource: true, progress: null, ct, map)
                    ?? throw new InvalidOperationException($"{level} {id} no longer exists");
                target = anonymized.Id;
                result["AnonymizedResource"] = target;
            }
        }
        var forwarded = (result["Forwarded"] as JsonArray)?.Select(n => n!.GetValue<string>()).ToHashSet() ?? [];
        var failures = new List<string>();
        foreach (var name in rule.ForwardTo.Where(n => !forwarded.Contains(n)))
        {
            try
            {
                var m = modalities.Find(name) ?? throw new InvalidOperationException($"unknown modality {name}");
                var sent = await modalities.StoreAsync(m, [target], ct, rule.StorageCommitment ? StorageCommitmentMode.RequestAndWait : StorageCommitmentMode.None);
                if (sent.FailedInstancesCount > 0) throw new InvalidOperationException($"{sent.FailedInstancesCount} instance(s) refused");
                if (sent.Commitment is { Error: { } notCommitted }) throw new InvalidOperationException("storage commitment not obtained: " + notCommitted);
                if (sent.Commitment?.Report is { Failed.Count: > 0 } report)
                    throw new InvalidOperationException($"{report.Failed.Count} instance(s) not committed: " +
                        string.Join("; ", report.Failed.Take(3).Select(f => $"{f.SopInstanceUid} ({f.Description})")));
                forwarded.Add(name);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failures.Add($"{name}: {ex.Message}");
            }
        }
        // DICOMweb destinations are remembered as "dicomweb:{name}", apart from modalities of the same name.
        foreach (var name in rule.ForwardToDicomWeb.Where(n => !forwarded.Contains(DicomWebKey(n))))
        {
            try
            {
                var sent = await dicomWeb.StowAsync(name, [target], null, ct);
                if (sent.FailedInstancesCount > 0) throw new InvalidOperationException($"{sent.FailedInstancesCount} instance(s) refused: {string.Join("; ", sent.Failures.Take(3))}");
                forwarded.Add(DicomWebKey(name));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failures.Add($"DICOMweb server {name}: {ex.Message}");
            }
        }
        result["Forwarded"] = new JsonArray(forwarded.Select(f => (JsonNode)f).ToArray());
        if (failures.Count > 0) throw new JobItemsFailedException("Could not forward to " + string.Join("; ", failures), result);
        return result;
    }

    private static string DicomWebKey(string name) => "dicomweb:" + name;
}

/// <summary>What a Route job does (its Content): the rule as it was when it matched, and the resource it matched.</summary>
public sealed record RouteParameters
{
    public string Description { get; init; } = "Routing rule";
    public required RoutingRule Rule { get; init; }
    public required ResourceLevel Level { get; init; }
    public required IReadOnlyList<string> ParentResources { get; init; }
}
