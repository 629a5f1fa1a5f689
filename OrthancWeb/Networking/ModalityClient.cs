using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Networking;

/// <summary>The result of sending resources to a modality (Orthanc's /modalities/{id}/store answer).</summary>
public sealed record StoreToModalityResult(int InstancesCount, int FailedInstancesCount, IReadOnlyList<string> FailedInstances);

/// <summary>A C-FIND run against a modality, kept so its answers can be read and retrieved (Orthanc's /queries).</summary>
public sealed record ModalityQuery(string Id, string Modality, ResourceLevel Level, DicomDataset Query, IReadOnlyList<DicomDataset> Answers);

/// <summary>
/// SCU services on the configured modalities, shared by the REST API and the UI: echo, store, find, move.
/// </summary>
public sealed partial class ModalityClient(IOptionsMonitor<DicomOptions> options, ModalityRegistry registry, IndexQueries queries, InstanceFiles files, ILogger<ModalityClient> logger)
{
    private readonly ConcurrentDictionary<string, ModalityQuery> _queries = new();

    public IReadOnlyDictionary<string, ModalityOptions> Modalities => registry.All.ToDictionary(m => m.Name, m => m.Options, StringComparer.OrdinalIgnoreCase);

    public ModalityOptions? Find(string name) => registry.Find(name);

    private string LocalAet => options.CurrentValue.DicomAet;

    /// <summary>How long a peer may take to connect and to answer the association request (DicomScuTimeout).</summary>
    private AssociationOptions Scu => new() { ArtimTimeout = TimeSpan.FromSeconds(options.CurrentValue.DicomScuTimeout) };

    /// <summary>C-ECHO; a failure to reach the peer throws a <see cref="Dicom.Network.DicomNetworkException"/>.</summary>
    public async Task<ushort> EchoAsync(ModalityOptions m, CancellationToken ct)
    {
        var timeout = Scu with { IdleTimeout = Scu.ArtimTimeout };
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAet, m.AET, [(SopClasses.Verification, SopClasses.Uncompressed)], timeout, ct: ct);
        return await client.EchoAsync(ct);
    }

    /// <summary>Sends every instance under the given resources in one association.</summary>
    public async Task<StoreToModalityResult> StoreAsync(ModalityOptions m, IEnumerable<string> resourceIds, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "send to modalities");
        var instances = new List<(ResourceInfo Info, AttachmentInfo File)>();
        foreach (var id in resourceIds)
        {
            var r = await queries.GetAsync(id, null, ct) ?? throw new KeyNotFoundException($"Unknown resource: {id}");
            foreach (var instanceId in await queries.RelativesAsync(id, r.Level, ResourceLevel.Instance, ct) ?? [])
                if (await queries.GetAsync(instanceId, ResourceLevel.Instance, ct) is { File: { } f } info) instances.Add((info, f));
        }
        if (instances.Count == 0) return new StoreToModalityResult(0, 0, []);
        var contexts = instances.Select(i => (Sop: i.Info.Metadata.GetValueOrDefault("SopClassUid") ?? "", Ts: i.Info.Metadata.GetValueOrDefault("TransferSyntax") ?? ""))
            .Distinct()
            .Select(c => (c.Sop, (IReadOnlyList<string>)new[] { c.Ts }.Concat(SopClasses.Uncompressed).Where(t => t.Length > 0).Distinct().ToList()))
            .Take(128).ToList();
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAet, m.AET, contexts, Scu, ct: ct);
        var failed = new List<string>();
        foreach (var (info, file) in instances)
        {
            try
            {
                var dicom = files.Read(file, includePixelData: true);
                var bytes = DicomWriter.ToBytes(dicom.Dataset, dicom.TransferSyntax);
                var rsp = await client.StoreAsync(info.Metadata.GetValueOrDefault("SopClassUid") ?? "", info.MainDicomTags.GetValueOrDefault(DicomTags.SOPInstanceUID) ?? "",
                    dicom.TransferSyntax, bytes, ct: ct);
                if (DimseStatus.IsFailure(rsp.Status)) failed.Add(info.PublicId);
            }
            catch (DimseFailureException ex)
            {
                LogNotSent(logger, info.PublicId, m.AET, ex.Message);
                failed.Add(info.PublicId);
            }
        }
        return new StoreToModalityResult(instances.Count, failed.Count, failed);
    }

    [LoggerMessage(LogLevel.Warning, "Could not send {Instance} to {AET}: {Reason}")]
    private static partial void LogNotSent(ILogger logger, string instance, string aet, string reason);

    public async Task<ModalityQuery> QueryAsync(string modalityName, ModalityOptions m, ResourceLevel level, DicomDataset query, CancellationToken ct)
    {
        var sopClass = level == ResourceLevel.Patient ? SopClasses.PatientRootFind : SopClasses.StudyRootFind;
        query.Add(DicomTags.QueryRetrieveLevel, DicomVR.CS, level == ResourceLevel.Instance ? "IMAGE" : level.ToString().ToUpperInvariant());
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAet, m.AET, [(sopClass, SopClasses.Uncompressed)], Scu, ct: ct);
        var answers = new List<DicomDataset>();
        await foreach (var answer in client.FindAsync(sopClass, query, ct)) answers.Add(answer);
        var result = new ModalityQuery(Guid.NewGuid().ToString(), modalityName, level, query, answers);
        _queries[result.Id] = result;
        return result;
    }

    public ModalityQuery? GetQuery(string id) => _queries.GetValueOrDefault(id);

    public IReadOnlyCollection<string> QueryIds => _queries.Keys.ToList();

    /// <summary>C-MOVE of the given identifiers from a modality to a target AE (ours by default).</summary>
    public async Task<DimseMessage> MoveAsync(ModalityOptions m, ResourceLevel level, IEnumerable<DicomDataset> identifiers, string? targetAet, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "retrieve from modalities");
        var sopClass = level == ResourceLevel.Patient ? SopClasses.PatientRootMove : SopClasses.StudyRootMove;
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAet, m.AET, [(sopClass, SopClasses.Uncompressed)], Scu, ct: ct);
        DimseMessage? last = null;
        foreach (var id in identifiers)
        {
            id.Add(DicomTags.QueryRetrieveLevel, DicomVR.CS, level == ResourceLevel.Instance ? "IMAGE" : level.ToString().ToUpperInvariant());
            last = await client.MoveAsync(sopClass, targetAet ?? LocalAet, id, ct);
            if (DimseStatus.IsFailure(last.Status)) break;
        }
        return last ?? throw new ArgumentException("nothing to move");
    }
}
