using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Index;
using OrthancWeb.Ingest;

namespace OrthancWeb.Networking;

public sealed class EchoScp : ICEchoProvider
{
    public Task<ushort> OnEchoAsync(DimseContext context, CancellationToken ct) => Task.FromResult(DimseStatus.Success);
}

/// <summary>
/// C-STORE SCP: the data set as received, behind a meta group of ours, through the one ingest path. A data set past
/// the spool threshold never sits in memory: the association writes its fragments to the incoming file (see
/// <see cref="Open"/>), and the ingest path takes it from there.
/// </summary>
public sealed partial class StoreScp(IngestService ingest, DicomPolicy policy, IAuditTrail audit, ILogger<StoreScp> logger) : ICStoreProvider, IDataSetSpool
{
    public long Threshold => ingest.SpoolThreshold;

    /// <summary>The incoming file of a C-STORE's data set, its meta group written first; null for any other request.</summary>
    public IDataSetSink? Open(DicomAssociation association, DimseMessage request) =>
        request.CommandField == CommandField.CStoreRequest
            ? ingest.OpenSpool(MetaHeader(request, association.IsRequestor ? association.CalledAE : association.CallingAE)) // a C-GET's stores come from the called AE
            : null;

    /// <summary>Part 10 meta group (PS3.10 §7.1) from the command and the presentation context; the data set is not touched.</summary>
    private static byte[] MetaHeader(DimseMessage request, string callingAe)
    {
        var file = new DicomFile(new DicomDataset(), request.DataSyntax);
        var meta = file.FileMetaInfo;
        meta.AddBytes(DicomTags.FileMetaInformationVersion, DicomVR.OB, new byte[] { 0, 1 });
        meta.Add(DicomTags.MediaStorageSOPClassUID, DicomVR.UI, request.AffectedSopClassUid);
        meta.Add(DicomTags.MediaStorageSOPInstanceUID, DicomVR.UI, request.AffectedSopInstanceUid);
        meta.Add(DicomTags.TransferSyntaxUID, DicomVR.UI, request.DataSyntax.Uid);
        meta.Add(DicomTags.ImplementationClassUID, DicomVR.UI, DicomUids.ImplementationClassUid);
        meta.Add(DicomTags.ImplementationVersionName, DicomVR.SH, DicomUids.ImplementationVersionName);
        meta.Add(DicomTags.SourceApplicationEntityTitle, DicomVR.AE, callingAe);
        return file.ToBytes();
    }

    public async Task<(ushort Status, string? Comment)> OnStoreAsync(DimseContext context, DimseMessage request, CancellationToken ct)
    {
        using var spooled = request.SpooledData;
        if (policy.FindPeer(context.CallingAE, context.RemoteEndPoint?.Address) is { AllowStore: false })
        {
            Refused(AuditOutcome.MinorFailure, "not authorized");
            return (DimseStatus.NotAuthorized, $"{context.CallingAE} may not store here");
        }
        var source = new IngestSource(IngestOrigin.DicomProtocol, context.RemoteHost, context.CallingAE, context.CalledAE);
        return await IngestAsync(request, spooled, source, ct);
    }

    /// <summary>
    /// A C-STORE sub-operation of a C-GET we asked for (PS3.4 C.4.3.3): on our own association, from the modality we
    /// retrieve from, through the same ingest path and audit records as any C-STORE.
    /// </summary>
    public async Task<ushort> OnRetrievedAsync(DimseMessage request, string remoteAet, string? remoteHost, string localAet, CancellationToken ct)
    {
        using var spooled = request.SpooledData;
        var (status, _) = await IngestAsync(request, spooled, new IngestSource(IngestOrigin.DicomProtocol, remoteHost, remoteAet, localAet), ct);
        return status;
    }

    private async Task<(ushort Status, string? Comment)> IngestAsync(DimseMessage request, IDataSetSink? spooled, IngestSource source, CancellationToken ct)
    {
        IngestResult result;
        try
        {
            if (spooled is IngestSpool spool)
                result = await ingest.StoreSpooledAsync(spool, source, ct);
            else if (request.Data is { } data)
                result = await ingest.StoreAsync(MetaHeader(request, source.RemoteAet ?? ""), data, source, ct);
            else
                return (DimseStatus.CannotUnderstand, "C-STORE without a data set");
        }
        catch (Exception ex) when (IndexDatabase.IsUnavailable(ex))
        {
            // PostgreSQL restarting or out of reach: Out of Resources (PS3.4 Table B.2-1, a refusal, as Orthanc answers
            // a failed store), so the modality keeps the instance and sends it again, and the association goes on.
            var reason = IndexDatabase.UnavailableReason(ex);
            LogRefused(logger, source.RemoteAet ?? "", reason);
            Refused(AuditOutcome.SeriousFailure, reason);
            return (DimseStatus.OutOfResources, "The index database does not answer: try again later");
        }
        switch (result.Status)
        {
            case IngestStatus.Success or IngestStatus.AlreadyStored:
                audit.Record(new AuditEvent(AuditActions.CStore, AuditOutcome.Success)
                {
                    ResourceLevel = "Instance", ResourceId = result.InstanceId, PatientId = result.DicomPatientId, StudyInstanceUid = result.StudyInstanceUid,
                });
                return (DimseStatus.Success, null);
            case IngestStatus.StorageFull:
                // Out of Resources (PS3.4 Table B.2-1): the storage is full, by its limits or its disk.
                LogRefused(logger, source.RemoteAet ?? "", result.Reason);
                Refused(AuditOutcome.SeriousFailure, result.Reason);
                return (DimseStatus.OutOfResources, result.Reason);
            case IngestStatus.FilteredOut:
                // Orthanc 1.10 answers Success to an instance its ReceivedInstanceFilter discards (nothing is stored);
                // a filter may choose a failure status of its own instead (ReceivedCStoreInstanceFilter, later Orthanc).
                LogRefused(logger, source.RemoteAet ?? "", "discarded by the received-instance filter");
                Refused(AuditOutcome.MinorFailure, "discarded by the received-instance filter");
                return (result.CStoreStatus ?? DimseStatus.Success, result.CStoreStatus is null ? null : "Refused by a Lua filter");
            default:
                LogRefused(logger, source.RemoteAet ?? "", result.Reason);
                Refused(AuditOutcome.MinorFailure, result.Reason);
                return (DimseStatus.CannotUnderstand, Cause(result.Reason));
        }
    }

    /// <summary>
    /// An Error Comment is an LO of 64 characters at most (PS3.7 Annex C): a longer reason keeps its cause, the part
    /// after its last colon ("...at byte 1048576: deflated data inflates over 200 times its size").
    /// </summary>
    private static string? Cause(string? reason) =>
        reason is { Length: > 64 } && reason.LastIndexOf(": ", StringComparison.Ordinal) is var at and > 0 ? reason[(at + 2)..] : reason;

    /// <summary>
    /// One record per instance, on the storescu hot path: the strings are those we already hold (a stored instance's
    /// patient and study come with its ingest result), the peer comes from the association's ambient actor, and the
    /// trail queues it (IAuditTrail.Record never waits on the disk). This one is for a refused instance.
    /// </summary>
    private void Refused(AuditOutcome outcome, string? reason) =>
        audit.Record(new AuditEvent(AuditActions.CStore, outcome) { ResourceLevel = "Instance", Details = reason });

    [LoggerMessage(LogLevel.Warning, "C-STORE from {AET} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string aet, string? reason);
}

/// <summary>
/// Where a Modality Worklist C-FIND (PS3.4 Annex K) finds its answers: provided by the Worklists capability, which sits
/// above networking; without one, worklist queries are refused.
/// </summary>
public interface IWorklistSource
{
    /// <summary>The items that match the identifier (PS3.4 K.6.1.2), each with the requested keys only.</summary>
    IAsyncEnumerable<DicomDataset> FindAsync(DimseContext context, DicomDataset identifier, CancellationToken ct);
}

/// <summary>
/// C-FIND SCP (Patient Root and Study Root) answered from the index, with the matching rules of PS3.4 §C.2.2.2 as
/// <see cref="IndexQueries.FindAsync"/> implements them, and the return keys filled from the main tags. Modality
/// Worklist queries go to the <see cref="IWorklistSource"/>, for the modalities allowed them (AllowFindWorklist).
/// </summary>
public sealed class FindScp(IndexQueries queries, IAuditTrail audit, DicomPolicy policy, IEnumerable<IWorklistSource> worklists, IEnumerable<IFindRequestFilter> filters) : ICFindProvider
{
    private readonly IWorklistSource? _worklists = worklists.FirstOrDefault();
    private readonly IFindRequestFilter? _filter = filters.FirstOrDefault();

    private static readonly DicomTag[] Computed =
    [
        DicomTags.NumberOfPatientRelatedStudies, DicomTags.NumberOfPatientRelatedSeries, DicomTags.NumberOfPatientRelatedInstances,
        DicomTags.NumberOfStudyRelatedSeries, DicomTags.NumberOfStudyRelatedInstances, DicomTags.NumberOfSeriesRelatedInstances,
        DicomTags.ModalitiesInStudy,
    ];

    public async IAsyncEnumerable<DicomDataset> OnFindAsync(DimseContext context, string sopClassUid, DicomDataset identifier, [EnumeratorCancellation] CancellationToken ct)
    {
        if (sopClassUid == SopClasses.ModalityWorklistFind)
        {
            await foreach (var item in FindWorklistAsync(context, identifier, ct)) yield return item;
            yield break;
        }
        if (_filter is not null && await _filter.FilterIncomingAsync(identifier, context.CallingAE, context.RemoteHost, context.CalledAE, ct) is { } filtered)
            identifier = filtered;
        var levelText = identifier.GetString(DicomTags.QueryRetrieveLevel) ?? "";
        if (!TryLevel(levelText, out var level))
            throw new DimseFailureException(DimseStatus.IdentifierDoesNotMatchSopClass, $"QueryRetrieveLevel '{levelText}' is not PATIENT, STUDY, SERIES or IMAGE");
        if (level == ResourceLevel.Patient && sopClassUid == SopClasses.StudyRootFind)
            throw new DimseFailureException(DimseStatus.IdentifierDoesNotMatchSopClass, "Study Root has no PATIENT level");

        var constraints = new List<FindConstraint>();
        foreach (var item in identifier)
        {
            if (item is not DicomElement || item.Tag.Group == 0x0008 && item.Tag.Element is 0x0005 or 0x0052) continue;
            var value = identifier.GetString(item.Tag) ?? "";
            if (value.Length == 0 || Array.IndexOf(Computed, item.Tag) >= 0 && item.Tag != DicomTags.ModalitiesInStudy) continue;
            if (MainDicomTags.LevelOf(item.Tag == DicomTags.ModalitiesInStudy ? DicomTags.Modality : item.Tag) is null) continue; // return key only
            constraints.Add(new FindConstraint(item.Tag, value));
        }
        IReadOnlyList<string> ids;
        try
        {
            ids = await queries.FindAsync(new FindRequest(level, constraints, CaseSensitive: true, PersonNamesIgnoreCase: true), ct);
        }
        catch (FindException ex) { throw new DimseFailureException(DimseStatus.UnableToProcess, ex.Message); }

        // Who asked what, before the answers go (a query is an access to patient data even when cancelled half-way).
        audit.Record(new AuditEvent(AuditActions.CFind, AuditOutcome.Success)
        {
            PatientId = NonEmpty(identifier.GetString(DicomTags.PatientID)),
            StudyInstanceUid = NonEmpty(identifier.GetString(DicomTags.StudyInstanceUID)),
            ResourceLevel = level.ToString(),
            Details = $"{ids.Count} match(es) for {constraints.Count} key(s)",
        });
        var charset = identifier.GetString(DicomTags.SpecificCharacterSet);
        var wantsComputed = identifier.Any(i => Array.IndexOf(Computed, i.Tag) >= 0);
        // Answers in pages: a few queries fetch the tags of a whole page, not several per match.
        foreach (var page in ids.Chunk(200))
        {
            var tags = await queries.TagsWithAncestorsAsync(page, ct);
            foreach (var id in page)
            {
                ct.ThrowIfCancellationRequested();
                if (!tags.TryGetValue(id, out var values)) continue;
                yield return await AnswerAsync(id, level, identifier, values, charset, wantsComputed, ct);
            }
        }
    }

    private IAsyncEnumerable<DicomDataset> FindWorklistAsync(DimseContext context, DicomDataset identifier, CancellationToken ct)
    {
        // Refused: Not Authorized (PS3.7 C.5.2 general status), for a modality whose AllowFindWorklist is off.
        string? refusal = policy.FindPeer(context.CallingAE, context.RemoteEndPoint?.Address) is { AllowFindWorklist: false }
            ? $"{context.CallingAE} may not query worklists here"
            : _worklists is null ? "no worklists are served here" : null;
        if (refusal is null) return _worklists!.FindAsync(context, identifier, ct);
        audit.Record(new AuditEvent(AuditActions.CFind, AuditOutcome.MinorFailure) { ResourceLevel = "Worklist", Details = refusal });
        throw new DimseFailureException(DimseStatus.NotAuthorized, refusal);
    }

    internal static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    internal static bool TryLevel(string text, out ResourceLevel level)
    {
        switch (text.Trim().ToUpperInvariant())
        {
            case "PATIENT": level = ResourceLevel.Patient; return true;
            case "STUDY": level = ResourceLevel.Study; return true;
            case "SERIES": level = ResourceLevel.Series; return true;
            case "IMAGE" or "INSTANCE": level = ResourceLevel.Instance; return true;
            default: level = default; return false;
        }
    }

    private async Task<DicomDataset> AnswerAsync(string id, ResourceLevel level, DicomDataset identifier, Dictionary<DicomTag, string> values,
        string? requestedCharset, bool wantsComputed, CancellationToken ct)
    {
        // The answer holds the requested keys (PS3.4 §C.4.1.1.3.2), from the main tags of the match and its ancestors.
        var answerText = values.Values.Any(v => v.Any(c => c > 127)) && string.IsNullOrEmpty(requestedCharset) ? "ISO_IR 192" : requestedCharset;
        var answer = new DicomDataset();
        if (!string.IsNullOrEmpty(answerText)) answer.Add(DicomTags.SpecificCharacterSet, DicomVR.CS, answerText.Split('\\'));
        answer.Add(DicomTags.QueryRetrieveLevel, DicomVR.CS, identifier.GetString(DicomTags.QueryRetrieveLevel)!.Trim());
        foreach (var item in identifier)
        {
            var tag = item.Tag;
            if (tag == DicomTags.QueryRetrieveLevel || tag == DicomTags.SpecificCharacterSet || item is DicomSequence) continue;
            var vr = item.VR;
            if (values.TryGetValue(tag, out var v)) answer.Add(tag, vr, v);
            else if (Array.IndexOf(Computed, tag) >= 0) answer.Add(tag, vr, await ComputeAsync(tag, id, level, ct));
            else answer.AddBytes(tag, vr, ReadOnlyMemory<byte>.Empty); // requested, not known: empty (PS3.4 §C.4.1.1.3.2)
        }
        answer.Add(DicomTags.RetrieveAETitle, DicomVR.AE, "");
        return answer;
    }

    private async Task<string> ComputeAsync(DicomTag tag, string id, ResourceLevel level, CancellationToken ct)
    {
        async Task<int> Count(ResourceLevel target) => (await queries.RelativesAsync(id, level, target, ct))?.Count ?? 0;
        if (tag == DicomTags.NumberOfPatientRelatedStudies || tag == DicomTags.NumberOfStudyRelatedSeries && level == ResourceLevel.Patient) return (await Count(ResourceLevel.Study)).ToString(CultureInfo.InvariantCulture);
        if (tag == DicomTags.NumberOfPatientRelatedSeries || tag == DicomTags.NumberOfStudyRelatedSeries) return (await Count(ResourceLevel.Series)).ToString(CultureInfo.InvariantCulture);
        if (tag == DicomTags.NumberOfPatientRelatedInstances || tag == DicomTags.NumberOfStudyRelatedInstances || tag == DicomTags.NumberOfSeriesRelatedInstances)
            return (await Count(ResourceLevel.Instance)).ToString(CultureInfo.InvariantCulture);
        if (tag == DicomTags.ModalitiesInStudy)
        {
            var series = await queries.RelativesAsync(id, level, ResourceLevel.Series, ct) ?? [];
            var modalities = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var s in series)
                if ((await queries.GetAsync(s, ResourceLevel.Series, ct))?.MainDicomTags.GetValueOrDefault(DicomTags.Modality) is { Length: > 0 } m) modalities.Add(m);
            return string.Join('\\', modalities);
        }
        return "";
    }
}

/// <summary>C-MOVE and C-GET SCP: resolves the identifier to stored instances; the framework sends them.</summary>
public sealed class RetrieveScp(IndexQueries queries, InstanceFiles files, DicomPolicy policy, IAuditTrail audit) : ICMoveProvider, ICGetProvider
{
    public Task<MoveDestination?> ResolveDestinationAsync(DimseContext context, string aet, CancellationToken ct)
    {
        var m = policy.FindModality(aet);
        if (m is null)
            audit.Record(new AuditEvent(AuditActions.CMove, AuditOutcome.MinorFailure) { Details = $"unknown move destination {aet}" });
        return Task.FromResult(m is not null ? new MoveDestination(m.AET, m.Host, m.Port, m.UseDicomTls) : null);
    }

    public async Task<IReadOnlyList<StoreSubOperation>> ResolveAsync(DimseContext context, string sopClassUid, DicomDataset identifier, CancellationToken ct)
    {
        var levelText = identifier.GetString(DicomTags.QueryRetrieveLevel) ?? "";
        if (!FindScp.TryLevel(levelText, out var level))
            throw new DimseFailureException(DimseStatus.IdentifierDoesNotMatchSopClass, $"QueryRetrieveLevel '{levelText}' is not valid");
        // Retrieval uses the unique keys of the level and above (PS3.4 §C.4.2.2.1).
        var keys = new[] { DicomTags.PatientID, DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID }
            .Where(t => !string.IsNullOrEmpty(identifier.GetString(t)))
            .Select(t => new FindConstraint(t, identifier.GetString(t)!)).ToList();
        if (keys.Count == 0) throw new DimseFailureException(DimseStatus.IdentifierDoesNotMatchSopClass, "no unique key in the identifier");
        var ids = await queries.FindAsync(new FindRequest(level, keys), ct);
        var result = new List<StoreSubOperation>();
        foreach (var id in ids)
        {
            foreach (var instanceId in await queries.RelativesAsync(id, level, ResourceLevel.Instance, ct) ?? [])
            {
                var info = await queries.GetAsync(instanceId, ResourceLevel.Instance, ct);
                if (info?.File is not { } file) continue;
                var sopClass = info.Metadata.GetValueOrDefault("SopClassUid") ?? "";
                var sop = info.MainDicomTags.GetValueOrDefault(DicomTags.SOPInstanceUID) ?? "";
                var syntax = TransferSyntax.Lookup(info.Metadata.GetValueOrDefault("TransferSyntax") ?? TransferSyntax.ExplicitVRLittleEndian.Uid);
                result.Add(new StoreSubOperation(sopClass, sop, syntax, _ => Task.FromResult(LoadDataSet(file, syntax))));
            }
        }
        // Recorded once the instances have gone (OnRetrieveCompletedAsync).
        return result;
    }

    /// <summary>
    /// A C-MOVE or C-GET in the trail once it has ended: where the instances went (a C-MOVE's destination AE, or back
    /// to the caller), how many arrived, and its final status (PS3.15 A.5.3.2: the outcome of the transfer itself).
    /// </summary>
    public Task OnRetrieveCompletedAsync(DimseContext context, RetrieveOutcome outcome)
    {
        var id = outcome.Identifier;
        audit.Record(new AuditEvent(SopClasses.IsMove(outcome.SopClassUid) ? AuditActions.CMove : AuditActions.CGet,
            outcome.Failed == 0 && outcome.Error is null ? AuditOutcome.Success : outcome.Completed > 0 ? AuditOutcome.MinorFailure : AuditOutcome.SeriousFailure)
        {
            PatientId = FindScp.NonEmpty(id.GetString(DicomTags.PatientID)),
            StudyInstanceUid = FindScp.NonEmpty(id.GetString(DicomTags.StudyInstanceUID)),
            ResourceLevel = FindScp.TryLevel(id.GetString(DicomTags.QueryRetrieveLevel) ?? "", out var level) ? level.ToString() : null,
            Details = $"{outcome.Matched} instance(s) matched; to {outcome.DestinationAet ?? context.CallingAE}: {outcome.Completed} sent, {outcome.Failed} failed, " +
                      $"{outcome.Warning} with warnings; status {outcome.Status:X4}{(outcome.Error is null ? "" : "; " + outcome.Error)}",
        });
        return Task.CompletedTask;
    }

    /// <summary>The stored file's data set bytes in its own syntax (the meta group dropped), without decoding it.</summary>
    private ReadOnlyMemory<byte> LoadDataSet(AttachmentInfo file, TransferSyntax syntax)
    {
        using var s = files.Open(file);
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        var bytes = ms.GetBuffer().AsMemory(0, (int)ms.Length);
        var span = bytes.Span;
        if (span.Length > 144 && span[128] == 'D' && span[129] == 'I' && span[130] == 'C' && span[131] == 'M'
            && span[132] == 2 && span[133] == 0 && span[134] == 0 && span[135] == 0)
        {
            var groupLength = BitConverter.ToUInt32(span.Slice(140, 4));
            var start = 144 + (int)groupLength;
            if (start <= span.Length) return bytes[start..];
        }
        var parsed = DicomFile.Open(bytes);
        return DicomWriter.ToBytes(parsed.Dataset, parsed.TransferSyntax);
    }
}
