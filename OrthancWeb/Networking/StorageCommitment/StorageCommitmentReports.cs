using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Network;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Services;
using StorageCommitmentService = OrthancWeb.Dicom.Network.Services.StorageCommitment;

namespace OrthancWeb.Networking;

/// <summary>Orthanc's states of a storage commitment transaction (GET /storage-commitment/{id} "Status").</summary>
public enum StorageCommitmentStatus
{
    Pending,
    Success,
    Failure,
}

/// <summary>One storage commitment we asked for: to whom, for what, and its report once it came.</summary>
public sealed class StorageCommitmentTransaction(string uid, string remoteAet, IReadOnlyList<SopReference> references)
{
    private readonly TaskCompletionSource<StorageCommitmentReport> _report = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Uid { get; } = uid;
    public string RemoteAet { get; } = remoteAet;
    public IReadOnlyList<SopReference> References { get; } = references;
    public StorageCommitmentReport? Report => _report.Task.IsCompletedSuccessfully ? _report.Task.Result : null;
    public Task<StorageCommitmentReport> ReportTask => _report.Task;

    public StorageCommitmentStatus Status => Report switch
    {
        null => StorageCommitmentStatus.Pending,
        { Failed.Count: 0 } => StorageCommitmentStatus.Success,
        _ => StorageCommitmentStatus.Failure,
    };

    internal bool Complete(StorageCommitmentReport report) => _report.TrySetResult(report);

    /// <summary>Orthanc's shape: {"RemoteAET", "Status"} while pending, then with "Success" and "Failures" lists.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject { ["RemoteAET"] = RemoteAet, [nameof(Status)] = Status.ToString() };
        if (Report is { } r)
        {
            o["Success"] = new JsonArray(r.Committed.Select(c => (JsonNode)new JsonObject { ["SOPClassUID"] = c.SopClassUid, ["SOPInstanceUID"] = c.SopInstanceUid }).ToArray());
            o["Failures"] = new JsonArray(r.Failed.Select(f => (JsonNode)new JsonObject
            {
                ["Description"] = f.Description, ["FailureReason"] = f.Reason, ["SOPClassUID"] = f.SopClassUid, ["SOPInstanceUID"] = f.SopInstanceUid,
            }).ToArray());
        }
        return o;
    }
}

/// <summary>
/// Storage Commitment Push Model SCU (PS3.4 J.3): the transactions we asked for, kept in memory (the least recently
/// used dropped past StorageCommitmentReportsSize, as Orthanc), and their reports. A report is matched to its
/// transaction by Transaction UID, whether it comes on the association of the request or on a new association the
/// peer opens to our listener; on a new association it must come from the AE title we asked.
/// </summary>
public sealed partial class StorageCommitmentReports(IOptionsMonitor<DicomOptions> options, IAuditTrail audit, TimeProvider time,
    ILogger<StorageCommitmentReports> logger) : IStorageCommitmentReportProvider
{
    private readonly Lock _gate = new();
    private readonly LinkedList<StorageCommitmentTransaction> _recent = new();
    private readonly Dictionary<string, LinkedListNode<StorageCommitmentTransaction>> _byUid = new(StringComparer.Ordinal);

    /// <summary>A new transaction for these instances, to ask of <paramref name="remoteAet"/>.</summary>
    public StorageCommitmentTransaction Begin(string remoteAet, IReadOnlyList<SopReference> references)
    {
        var tx = new StorageCommitmentTransaction(StorageCommitmentService.NewTransactionUid(), remoteAet, references);
        lock (_gate)
        {
            _byUid[tx.Uid] = _recent.AddFirst(tx);
            while (_recent.Count > options.CurrentValue.StorageCommitmentReportsSize && _recent.Last is { } oldest)
            {
                _byUid.Remove(oldest.Value.Uid);
                _recent.RemoveLast();
            }
        }
        return tx;
    }

    public StorageCommitmentTransaction? Get(string uid)
    {
        lock (_gate)
        {
            if (!_byUid.TryGetValue(uid, out var node)) return null;
            _recent.Remove(node);
            _recent.AddFirst(node);
            return node.Value;
        }
    }

    /// <summary>Sends the request (N-ACTION) of <paramref name="tx"/> on <paramref name="client"/>'s association.</summary>
    public async Task RequestAsync(DicomClient client, StorageCommitmentTransaction tx, CancellationToken ct)
    {
        try
        {
            await client.RequestStorageCommitmentAsync(new StorageCommitmentRequest(tx.Uid, tx.References), ct);
        }
        catch (DicomNetworkException ex)
        {
            Audit(AuditActions.StorageCommitment, AuditOutcome.MinorFailure, tx, $"asked of {tx.RemoteAet}: refused, {ex.Message}");
            throw;
        }
        Audit(AuditActions.StorageCommitment, AuditOutcome.Success, tx, $"asked of {tx.RemoteAet}: {tx.References.Count} instance(s)");
    }

    /// <summary>
    /// Waits at most <paramref name="timeout"/> for the report of <paramref name="tx"/>, reading the association of the
    /// request meanwhile (a report may come on it); a timeout is a <see cref="DicomTimeoutException"/> naming the peer.
    /// </summary>
    public async Task<StorageCommitmentReport> WaitAsync(DicomClient client, StorageCommitmentTransaction tx, TimeSpan timeout, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var onAssociation = StorageCommitmentService.ReceiveReportsAsync(client.Channel,
            report => Task.FromResult(Deliver(report, tx.RemoteAet, "on our association")), stop.Token);
        try
        {
            return await tx.ReportTask.WaitAsync(timeout, time, ct);
        }
        catch (TimeoutException)
        {
            Audit(AuditActions.StorageCommitmentReport, AuditOutcome.MinorFailure, tx, $"none from {tx.RemoteAet} within {timeout.TotalSeconds:0.#} s");
            throw new DicomTimeoutException(DicomTimeout.Report, timeout) { CalledAE = tx.RemoteAet };
        }
        finally
        {
            await stop.CancelAsync();
            try { await onAssociation; } catch (OperationCanceledException) { }
        }
    }

    /// <summary>A report on a new association the SCP opened to our listener (PS3.4 J.3.3).</summary>
    public Task<ushort> OnReportAsync(DimseContext context, StorageCommitmentReport report, CancellationToken ct) =>
        Task.FromResult(Deliver(report, context.CallingAE, $"on a new association from {context.RemoteEndPoint?.Address}"));

    private ushort Deliver(StorageCommitmentReport report, string fromAet, string how)
    {
        var tx = Get(report.TransactionUid);
        if (tx is null || !string.Equals(tx.RemoteAet.Trim(), fromAet.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            // Not ours, or not from the AE we asked: refused (Invalid argument value, PS3.7 C.4.17), and kept out of any transaction.
            var why = tx is null ? "unknown Transaction UID" : $"transaction asked of {tx.RemoteAet}, not {fromAet}";
            audit.Record(new AuditEvent(AuditActions.StorageCommitmentReport, AuditOutcome.MinorFailure)
            {
                ResourceLevel = "Transaction", ResourceId = report.TransactionUid, Details = $"refused from {fromAet} {how}: {why}",
            });
            LogReportRefused(logger, report.TransactionUid, fromAet, why);
            throw new DimseFailureException(DimseStatus.InvalidArgumentValue, why);
        }
        if (tx.Complete(report))
            Audit(AuditActions.StorageCommitmentReport, report.Failed.Count == 0 ? AuditOutcome.Success : AuditOutcome.MinorFailure, tx,
                $"from {fromAet} {how}: {report.Committed.Count} committed, {report.Failed.Count} failed");
        return DimseStatus.Success;
    }

    private void Audit(string action, AuditOutcome outcome, StorageCommitmentTransaction tx, string details) =>
        audit.Record(new AuditEvent(action, outcome) { ResourceLevel = "Transaction", ResourceId = tx.Uid, Details = details });

    [LoggerMessage(LogLevel.Warning, "Storage commitment report {Transaction} from {AET} refused: {Reason}")]
    private static partial void LogReportRefused(ILogger logger, string transaction, string aet, string reason);
}
