using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
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
public sealed partial class ModalityClient(IOptionsMonitor<DicomOptions> options, ModalityRegistry registry, IndexQueries queries, InstanceFiles files,
    DicomTls tls, IAuditTrail audit, ILogger<ModalityClient> logger)
{
    private readonly QueryResults _queries = new(() => options.CurrentValue.QueryRetrieveSize);

    public IReadOnlyDictionary<string, ModalityOptions> Modalities => registry.All.ToDictionary(m => m.Name, m => m.Options, StringComparer.OrdinalIgnoreCase);

    public ModalityOptions? Find(string name) => registry.Find(name);

    private string LocalAet => options.CurrentValue.DicomAet;

    /// <summary>How long a peer may take to connect and to answer the association request (DicomScuTimeout).</summary>
    private AssociationOptions Scu => new() { ArtimTimeout = TimeSpan.FromSeconds(options.CurrentValue.DicomScuTimeout) };

    /// <summary>C-ECHO; a failure to reach the peer throws a <see cref="Dicom.Network.DicomNetworkException"/>.</summary>
    public async Task<ushort> EchoAsync(ModalityOptions m, CancellationToken ct)
    {
        // Probing the network from the server is not for every viewer (issue 15): the Modify role, as send and retrieve.
        Caller.Demand(Policies.Modify, "echo modalities");
        var timeout = Scu with { IdleTimeout = Scu.ArtimTimeout };
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAet, m.AET, [(SopClasses.Verification, SopClasses.Uncompressed)], timeout,
            tls: tls.For(m), ct: ct);
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
            .Select(c => (c.Sop, DicomClient.StoreSyntaxes(c.Ts, SopClasses.Uncompressed)))
            .Take(128).ToList();
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAet, m.AET, contexts, Scu, tls: tls.For(m), ct: ct);
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
        audit.Record(new AuditEvent(AuditActions.Send, failed.Count == 0 ? AuditOutcome.Success : AuditOutcome.MinorFailure)
        {
            ResourceLevel = "Instance",
            ResourceId = resourceIdsText(),
            Details = $"{instances.Count - failed.Count} of {instances.Count} instance(s) to {m.AET} at {m.Host}:{m.Port}",
        });
        return new StoreToModalityResult(instances.Count, failed.Count, failed);

        string resourceIdsText() => string.Join(',', instances.Select(i => i.Info.PublicId).Take(20));
    }

    [LoggerMessage(LogLevel.Warning, "Could not send {Instance} to {AET}: {Reason}")]
    private static partial void LogNotSent(ILogger logger, string instance, string aet, string reason);

    public async Task<ModalityQuery> QueryAsync(string modalityName, ModalityOptions m, ResourceLevel level, DicomDataset query, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "query modalities");
        var sopClass = level == ResourceLevel.Patient ? SopClasses.PatientRootFind : SopClasses.StudyRootFind;
        query.Add(DicomTags.QueryRetrieveLevel, DicomVR.CS, level == ResourceLevel.Instance ? "IMAGE" : level.ToString().ToUpperInvariant());
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAet, m.AET, [(sopClass, SopClasses.Uncompressed)], Scu, tls: tls.For(m), ct: ct);
        var answers = new List<DicomDataset>();
        await foreach (var answer in client.FindAsync(sopClass, query, ct)) answers.Add(answer);
        var result = new ModalityQuery(Guid.NewGuid().ToString(), modalityName, level, query, answers);
        _queries.Add(result);
        audit.Record(new AuditEvent(AuditActions.Query, AuditOutcome.Success)
        {
            PatientId = FindScp.NonEmpty(query.GetString(DicomTags.PatientID)),
            StudyInstanceUid = FindScp.NonEmpty(query.GetString(DicomTags.StudyInstanceUID)),
            ResourceLevel = level.ToString(),
            Details = $"C-FIND at {m.AET}: {answers.Count} answer(s)",
        });
        return result;
    }

    public ModalityQuery? GetQuery(string id)
    {
        Caller.Demand(Policies.Modify, "read query results");
        return _queries.Get(id);
    }

    public IReadOnlyCollection<string> QueryIds => _queries.Ids;

    /// <summary>C-MOVE of the given identifiers from a modality to a target AE (ours by default).</summary>
    public async Task<DimseMessage> MoveAsync(ModalityOptions m, ResourceLevel level, IEnumerable<DicomDataset> identifiers, string? targetAet, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "retrieve from modalities");
        var sopClass = level == ResourceLevel.Patient ? SopClasses.PatientRootMove : SopClasses.StudyRootMove;
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAet, m.AET, [(sopClass, SopClasses.Uncompressed)], Scu, tls: tls.For(m), ct: ct);
        DimseMessage? last = null;
        foreach (var id in identifiers)
        {
            id.Add(DicomTags.QueryRetrieveLevel, DicomVR.CS, level == ResourceLevel.Instance ? "IMAGE" : level.ToString().ToUpperInvariant());
            last = await client.MoveAsync(sopClass, targetAet ?? LocalAet, id, ct);
            audit.Record(new AuditEvent(AuditActions.Retrieve, DimseStatus.IsFailure(last.Status) ? AuditOutcome.MinorFailure : AuditOutcome.Success)
            {
                PatientId = FindScp.NonEmpty(id.GetString(DicomTags.PatientID)),
                StudyInstanceUid = FindScp.NonEmpty(id.GetString(DicomTags.StudyInstanceUID)),
                ResourceLevel = level.ToString(),
                Details = $"C-MOVE from {m.AET} to {targetAet ?? LocalAet}: status 0x{last.Status:X4}",
            });
            if (DimseStatus.IsFailure(last.Status)) break;
        }
        return last ?? throw new ArgumentException("nothing to move");
    }
}

/// <summary>
/// The C-FIND results /queries serves, at most QueryRetrieveSize of them: adding one past the limit drops the least
/// recently used (created or read), as Orthanc does. They would otherwise stay in memory until the server stops.
/// </summary>
internal sealed class QueryResults(Func<int> capacity)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, LinkedListNode<ModalityQuery>> _byId = new(StringComparer.Ordinal);
    private readonly LinkedList<ModalityQuery> _recency = new(); // most recently used first

    public void Add(ModalityQuery query)
    {
        lock (_gate)
        {
            _byId[query.Id] = _recency.AddFirst(query);
            while (_byId.Count > Math.Max(1, capacity()) && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _byId.Remove(oldest.Value.Id);
            }
        }
    }

    public ModalityQuery? Get(string id)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(id, out var node)) return null;
            _recency.Remove(node);
            _recency.AddFirst(node);
            return node.Value;
        }
    }

    public IReadOnlyCollection<string> Ids
    {
        get { lock (_gate) return _recency.Select(q => q.Id).ToList(); }
    }
}
