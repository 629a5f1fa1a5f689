using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Pdu;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Index;
using OrthancWeb.Jobs;
using OrthancWeb.Security;

namespace OrthancWeb.Networking;

/// <summary>The result of sending resources to a modality (Orthanc's /modalities/{id}/store answer).</summary>
public sealed record StoreToModalityResult(int InstancesCount, int FailedInstancesCount, IReadOnlyList<string> FailedInstances)
{
    /// <summary>The storage commitment asked for the instances sent, when asked; null otherwise.</summary>
    public StorageCommitmentOutcome? Commitment { get; init; }
}

/// <summary>
/// What came of a storage commitment asked after a send: its transaction, and the report or why there is none (the
/// peer refused the request, or did not report in time).
/// </summary>
public sealed record StorageCommitmentOutcome(StorageCommitmentTransaction Transaction, string? Error)
{
    public StorageCommitmentReport? Report => Transaction.Report;
}

/// <summary>Whether a send asks the modality to commit to what it received (PS3.4 J.3), and whether it waits for the report.</summary>
public enum StorageCommitmentMode
{
    None,
    /// <summary>Request only; the report is kept when it comes (Orthanc's /modalities/{id}/store with "StorageCommitment").</summary>
    Request,
    /// <summary>Request, then wait for the report within the modality's Timeout or DicomStorageCommitmentTimeout (store jobs).</summary>
    RequestAndWait,
}

/// <summary>The answers of one C-FIND; <paramref name="Truncated"/> when QueryRetrieveMaximumAnswers cut it short.</summary>
public sealed record FindResult(IReadOnlyList<DicomDataset> Answers, bool Truncated);

/// <summary>
/// SCU services on the configured modalities, shared by the REST API, the UI and the jobs: echo, store, find, move,
/// get. Each association uses the modality's own settings: LocalAet, Timeout, AllowTranscoding, PreferredTransferSyntax.
/// </summary>
public sealed partial class ModalityClient(IOptionsMonitor<DicomOptions> options, ModalityRegistry registry, IndexQueries queries, InstanceFiles files,
    DicomTls tls, StoreScp storeScp, StorageCommitmentReports commitments, IAuditTrail audit, ILogger<ModalityClient> logger,
    IEnumerable<IFindRequestFilter>? findFilters = null)
{
    private readonly IFindRequestFilter? _findFilter = findFilters?.FirstOrDefault();

    public IReadOnlyDictionary<string, ModalityOptions> Modalities => registry.All.ToDictionary(m => m.Name, m => m.Options, StringComparer.OrdinalIgnoreCase);

    public ModalityOptions? Find(string name) => registry.Find(name);

    /// <summary>Our calling AE title towards a modality: its LocalAet, else DicomAet.</summary>
    public string LocalAetFor(ModalityOptions m) => string.IsNullOrWhiteSpace(m.LocalAet) ? options.CurrentValue.DicomAet : m.LocalAet.Trim();

    /// <summary>
    /// How long a peer may take to connect, to answer the association request and then each message: the modality's
    /// Timeout, else DicomScuTimeout for the connection and the default idle limit for long operations.
    /// </summary>
    private AssociationOptions Scu(ModalityOptions m, IDataSetSpool? spool = null)
    {
        var connect = TimeSpan.FromSeconds(m.Timeout > 0 ? m.Timeout : options.CurrentValue.DicomScuTimeout);
        var o = new AssociationOptions { ArtimTimeout = connect, Spool = spool };
        return m.Timeout > 0 ? o with { IdleTimeout = connect } : o;
    }

    private static string LevelText(ResourceLevel level) => level == ResourceLevel.Instance ? "IMAGE" : level.ToString().ToUpperInvariant();

    /// <summary>C-ECHO; a failure to reach the peer throws a <see cref="Dicom.Network.DicomNetworkException"/>.</summary>
    public async Task<ushort> EchoAsync(ModalityOptions m, CancellationToken ct)
    {
        // Probing the network from the server is not for every viewer (issue 15): the Modify role, as send and retrieve.
        Caller.Demand(Policies.Modify, "echo modalities");
        var timeout = Scu(m) with { IdleTimeout = Scu(m).ArtimTimeout };
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAetFor(m), m.AET, [(SopClasses.Verification, SopClasses.Uncompressed)], timeout,
            tls: tls.For(m), ct: ct);
        return await client.EchoAsync(ct);
    }

    /// <summary>
    /// The transfer syntaxes proposed for a C-STORE of instances stored in <paramref name="stored"/>: that one first,
    /// then (AllowTranscoding) the modality's preferred syntax and the uncompressed ones we can decompress to.
    /// </summary>
    private static IReadOnlyList<string> StoreSyntaxes(ModalityOptions m, string stored)
    {
        if (!m.AllowTranscoding) return stored.Length > 0 ? [stored] : SopClasses.Uncompressed;
        // The stored syntax, then the modality's preferred one when we can write it, then the uncompressed syntaxes and
        // the lossless ones we encode (never a lossy one unasked: a peer's choice must not degrade an image).
        var preferred = m.PreferredTransferSyntax is { Length: > 0 } p && (TransferSyntax.Lookup(p).IsUncompressed || CodecRegistry.Default.CanWrite(TransferSyntax.Lookup(p))) ? p : "";
        return new[] { stored, preferred }.Concat(DicomClient.StoreSyntaxes(stored, SopClasses.Uncompressed)).Where(t => t.Length > 0).Distinct().ToList();
    }

    /// <summary>
    /// Sends every instance under the given resources in one association; with <paramref name="commitment"/>, then asks
    /// the modality on that association to commit to those it accepted (N-ACTION, PS3.4 J.3.2), and waits for the
    /// report when asked to.
    /// </summary>
    public async Task<StoreToModalityResult> StoreAsync(ModalityOptions m, IEnumerable<string> resourceIds, CancellationToken ct,
        StorageCommitmentMode commitment = StorageCommitmentMode.None)
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
            .Select(c => (c.Sop, StoreSyntaxes(m, c.Ts)))
            .Take(commitment == StorageCommitmentMode.None ? 128 : 127).ToList();
        if (commitment != StorageCommitmentMode.None) contexts.Add((SopClasses.StorageCommitmentPushModel, SopClasses.Uncompressed));
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAetFor(m), m.AET, contexts, Scu(m), tls: tls.For(m), ct: ct);
        var failed = new List<string>();
        var sent = new List<SopReference>();
        foreach (var (info, file) in instances)
        {
            try
            {
                var dicom = files.Read(file, includePixelData: true);
                var bytes = DicomWriter.ToBytes(dicom.Dataset, dicom.TransferSyntax);
                var rsp = await client.StoreAsync(info.Metadata.GetValueOrDefault("SopClassUid") ?? "", info.MainDicomTags.GetValueOrDefault(DicomTags.SOPInstanceUID) ?? "",
                    dicom.TransferSyntax, bytes, ct: ct);
                if (DimseStatus.IsFailure(rsp.Status)) failed.Add(info.PublicId);
                else sent.Add(new SopReference(info.Metadata.GetValueOrDefault("SopClassUid") ?? "", info.MainDicomTags.GetValueOrDefault(DicomTags.SOPInstanceUID) ?? ""));
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
        var outcome = commitment == StorageCommitmentMode.None || sent.Count == 0 ? null : await CommitAsync(client, m, sent, commitment, ct);
        return new StoreToModalityResult(instances.Count, failed.Count, failed) { Commitment = outcome };

        string resourceIdsText() => string.Join(',', instances.Select(i => i.Info.PublicId).Take(20));
    }

    /// <summary>The storage commitment of a send, on its association; a refusal or a timeout is its outcome's error, not an exception.</summary>
    private async Task<StorageCommitmentOutcome> CommitAsync(DicomClient client, ModalityOptions m, IReadOnlyList<SopReference> sent, StorageCommitmentMode mode, CancellationToken ct)
    {
        var tx = commitments.Begin(m.AET, sent);
        try
        {
            if (client.Association.FindContext(SopClasses.StorageCommitmentPushModel) is null)
                throw new DimseFailureException(DimseStatus.SopClassNotSupported, "the modality does not accept storage commitment requests (Storage Commitment Push Model not accepted)")
                    { CalledAE = m.AET };
            await commitments.RequestAsync(client, tx, ct);
            if (mode == StorageCommitmentMode.RequestAndWait) await commitments.WaitAsync(client, tx, CommitmentTimeout(m), ct);
            return new StorageCommitmentOutcome(tx, null);
        }
        catch (Dicom.Network.DicomNetworkException ex)
        {
            LogNotCommitted(logger, m.AET, tx.Uid, ex.Message);
            return new StorageCommitmentOutcome(tx, ex.Message);
        }
    }

    /// <summary>How long a store job waits for a storage commitment report: the modality's Timeout, else DicomStorageCommitmentTimeout.</summary>
    public TimeSpan CommitmentTimeout(ModalityOptions m) => TimeSpan.FromSeconds(m.Timeout > 0 ? m.Timeout : options.CurrentValue.DicomStorageCommitmentTimeout);

    /// <summary>
    /// Asks a modality to commit to instances (Orthanc's POST /modalities/{id}/storage-commitment): the request on an
    /// association of its own, released once answered (as Orthanc); the report is kept when it comes on a new association.
    /// </summary>
    public async Task<StorageCommitmentTransaction> RequestStorageCommitmentAsync(ModalityOptions m, IReadOnlyList<SopReference> references, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "ask modalities for storage commitment");
        if (references.Count == 0) throw new DicomValidationException("No instance to ask storage commitment for");
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAetFor(m), m.AET,
            [(SopClasses.StorageCommitmentPushModel, SopClasses.Uncompressed)], Scu(m), tls: tls.For(m), ct: ct);
        var tx = commitments.Begin(m.AET, references);
        await commitments.RequestAsync(client, tx, ct);
        return tx;
    }

    /// <summary>The SOP class and instance UIDs of every instance under the given resources (Orthanc's "Resources" of a storage commitment request).</summary>
    public async Task<IReadOnlyList<SopReference>> ReferencesAsync(IEnumerable<string> resourceIds, CancellationToken ct)
    {
        var list = new List<SopReference>();
        foreach (var id in resourceIds)
        {
            var r = await queries.GetAsync(id, null, ct) ?? throw new KeyNotFoundException($"Unknown resource: {id}");
            foreach (var instanceId in await queries.RelativesAsync(id, r.Level, ResourceLevel.Instance, ct) ?? [])
                if (await queries.GetAsync(instanceId, ResourceLevel.Instance, ct) is { } info)
                    list.Add(new SopReference(info.Metadata.GetValueOrDefault("SopClassUid") ?? "", info.MainDicomTags.GetValueOrDefault(DicomTags.SOPInstanceUID) ?? ""));
        }
        return list;
    }

    [LoggerMessage(LogLevel.Warning, "Storage commitment {Transaction} by {AET} not obtained: {Reason}")]
    private static partial void LogNotCommitted(ILogger logger, string aet, string transaction, string reason);

    [LoggerMessage(LogLevel.Warning, "Could not send {Instance} to {AET}: {Reason}")]
    private static partial void LogNotSent(ILogger logger, string instance, string aet, string reason);

    /// <summary>
    /// C-FIND at a level (Patient Root for patients, Study Root below, as Orthanc): at most QueryRetrieveMaximumAnswers
    /// answers, the rest cancelled (C-CANCEL, PS3.7 §9.1.2.1). The identifier is completed with its Query/Retrieve Level.
    /// </summary>
    public async Task<FindResult> FindAsync(ModalityOptions m, ResourceLevel level, DicomDataset query, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "query modalities");
        var sopClass = level == ResourceLevel.Patient ? SopClasses.PatientRootFind : SopClasses.StudyRootFind;
        query.Add(DicomTags.QueryRetrieveLevel, DicomVR.CS, LevelText(level));
        if (_findFilter is not null && await _findFilter.FilterOutgoingAsync(query, m, ct) is { } filtered) query = filtered;
        var (answers, truncated) = await FindAnswersAsync(m, sopClass, query, ct);
        audit.Record(new AuditEvent(AuditActions.Query, AuditOutcome.Success)
        {
            PatientId = FindScp.NonEmpty(query.GetString(DicomTags.PatientID)),
            StudyInstanceUid = FindScp.NonEmpty(query.GetString(DicomTags.StudyInstanceUID)),
            ResourceLevel = level.ToString(),
            Details = $"C-FIND at {m.AET}: {answers.Count} answer(s){(truncated ? " (truncated)" : "")}",
        });
        return new FindResult(answers, truncated);
    }

    /// <summary>C-MOVE of the given identifiers from a modality to a target AE (ours by default): the last final response.</summary>
    public Task<DimseMessage> MoveAsync(ModalityOptions m, ResourceLevel level, IEnumerable<DicomDataset> identifiers, string? targetAet,
        IProgress<RetrieveProgress>? progress = null, CancellationToken ct = default) =>
        RetrieveAsync(m, level, identifiers.ToList(), RetrieveMethods.Move, targetAet, progress, ct);

    /// <summary>C-GET of the given identifiers: the modality sends them back on our association, into the one ingest path.</summary>
    public Task<DimseMessage> GetAsync(ModalityOptions m, ResourceLevel level, IEnumerable<DicomDataset> identifiers,
        IProgress<RetrieveProgress>? progress = null, CancellationToken ct = default) =>
        RetrieveAsync(m, level, identifiers.ToList(), RetrieveMethods.Get, null, progress, ct);

    /// <summary>The storage SOP classes a C-GET proposes (127: with the C-GET's own, the 128 contexts an association may have, PS3.8 §9.3.2.2): the common ones first.</summary>
    private static readonly IReadOnlyList<string> GetStorageClasses = new[]
    {
        "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1",
        "1.2.840.10008.5.1.4.1.1.1.2", "1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.12.1",
        "1.2.840.10008.5.1.4.1.1.20", "1.2.840.10008.5.1.4.1.1.128", "1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.4.1",
        "1.2.840.10008.5.1.4.1.1.481.1", "1.2.840.10008.5.1.4.1.1.481.2", "1.2.840.10008.5.1.4.1.1.481.3", "1.2.840.10008.5.1.4.1.1.481.5",
        "1.2.840.10008.5.1.4.1.1.88.11", "1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.104.1",
        "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.1.2.1", "1.2.840.10008.5.1.4.1.1.13.1.3", "1.2.840.10008.5.1.4.1.1.3.1",
    }.Concat(SopClasses.Storage).Distinct().Take(127).ToList();

    /// <summary>
    /// The syntaxes proposed for the instances a C-GET brings back: the modality's preferred one first, then every
    /// syntax we store as received (it then sends each instance as it holds it, when it can).
    /// </summary>
    private static List<string> GetSyntaxes(ModalityOptions m) =>
        new[] { m.PreferredTransferSyntax ?? "" }.Concat(SopClasses.Uncompressed)
            .Concat([TransferSyntax.JPEGLosslessSV1.Uid, TransferSyntax.JPEGLossless.Uid, TransferSyntax.JPEGBaseline8Bit.Uid, TransferSyntax.JPEGExtended12Bit.Uid,
                TransferSyntax.JPEGLSLossless.Uid, TransferSyntax.JPEGLSNearLossless.Uid, TransferSyntax.JPEG2000Lossless.Uid, TransferSyntax.JPEG2000.Uid,
                TransferSyntax.RLELossless.Uid, TransferSyntax.DeflatedExplicitVRLittleEndian.Uid])
            .Where(t => t.Length > 0).Distinct().ToList();

    private async Task<DimseMessage> RetrieveAsync(ModalityOptions m, ResourceLevel level, List<DicomDataset> identifiers, string method, string? targetAet,
        IProgress<RetrieveProgress>? progress, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "retrieve from modalities");
        if (identifiers.Count == 0) throw new DicomValidationException("Nothing to retrieve");
        var get = method == RetrieveMethods.Get;
        var root = level == ResourceLevel.Patient;
        var sopClass = get ? (root ? SopClasses.PatientRootGet : SopClasses.StudyRootGet) : (root ? SopClasses.PatientRootMove : SopClasses.StudyRootMove);
        var local = LocalAetFor(m);
        var target = targetAet is { Length: > 0 } t ? t : local;
        var contexts = new List<(string, IReadOnlyList<string>)> { (sopClass, SopClasses.Uncompressed) };
        IEnumerable<RoleSelection>? roles = null;
        if (get)
        {
            // We take the SCP role of each storage SOP class so the modality may send C-STOREs back (PS3.4 C.4.3, PS3.7 D.3.3.4).
            IReadOnlyList<string> syntaxes = GetSyntaxes(m);
            contexts.AddRange(GetStorageClasses.Select(c => (c, syntaxes)));
            roles = GetStorageClasses.Select(c => new RoleSelection(c, ScuRole: false, ScpRole: true));
        }
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, local, m.AET, contexts, Scu(m, get ? storeScp : null), roles, tls: tls.For(m), ct: ct);
        DimseMessage? last = null;
        var done = 0;
        foreach (var id in identifiers)
        {
            id.Add(DicomTags.QueryRetrieveLevel, DicomVR.CS, LevelText(level));
            var index = done;
            var pending = progress is null ? null : new ImmediateProgress<DimseMessage>(rsp => progress.Report(RetrieveProgress.From(index, identifiers.Count, rsp)));
            last = get
                ? await client.GetAsync(sopClass, id, rq => storeScp.OnRetrievedAsync(rq, m.AET, m.Host, local, ct), pending, ct)
                : await client.MoveAsync(sopClass, target, id, pending, ct);
            audit.Record(new AuditEvent(AuditActions.Retrieve, DimseStatus.IsFailure(last.Status) ? AuditOutcome.MinorFailure : AuditOutcome.Success)
            {
                PatientId = FindScp.NonEmpty(id.GetString(DicomTags.PatientID)),
                StudyInstanceUid = FindScp.NonEmpty(id.GetString(DicomTags.StudyInstanceUID)),
                ResourceLevel = level.ToString(),
                Details = get ? $"C-GET from {m.AET}: status 0x{last.Status:X4}" : $"C-MOVE from {m.AET} to {target}: status 0x{last.Status:X4}",
            });
            done++;
            progress?.Report(new RetrieveProgress(done, identifiers.Count, 0, 0));
            if (DimseStatus.IsFailure(last.Status)) break;
        }
        return last!;
    }
}

/// <summary>
/// How far a retrieve is: identifiers done of all, and within the current one its sub-operations done of all
/// (remaining + completed + failed + warning of the pending responses, PS3.4 C.4.2.1.4 and C.4.3.1.4).
/// </summary>
public readonly record struct RetrieveProgress(int Done, int Total, int SubOperationsDone, int SubOperations)
{
    public double Percent => Total == 0 ? 100
        : 100.0 * (Done + (SubOperations > 0 ? (double)SubOperationsDone / SubOperations : 0)) / Total;

    internal static RetrieveProgress From(int done, int total, DimseMessage pending)
    {
        int Count(DicomTag tag) => pending.Command.GetValueOrDefault<int>(tag, 0, 0);
        var finished = Count(DicomTags.NumberOfCompletedSuboperations) + Count(DicomTags.NumberOfFailedSuboperations) + Count(DicomTags.NumberOfWarningSuboperations);
        return new RetrieveProgress(done, total, finished, finished + Count(DicomTags.NumberOfRemainingSuboperations));
    }
}
