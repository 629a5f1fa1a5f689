using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Security;

namespace OrthancWeb.Networking;

public sealed partial class ModalityClient
{
    /// <summary>
    /// C-FIND on a modality's worklists (Modality Worklist Information Model - FIND, PS3.4 §K.6.1): the identifier is
    /// sent as given, with no Query/Retrieve Level (a worklist query has none, §K.6.1.2.1). At most
    /// QueryRetrieveMaximumAnswers answers are kept, as for other queries.
    /// </summary>
    public async Task<FindResult> FindWorklistAsync(ModalityOptions m, DicomDataset query, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "query modality worklists");
        var found = await FindAnswersAsync(m, SopClasses.ModalityWorklistFind, query, ct);
        audit.Record(new AuditEvent(AuditActions.Query, AuditOutcome.Success)
        {
            PatientId = FindScp.NonEmpty(query.GetString(DicomTags.PatientID)),
            ResourceLevel = "Worklist",
            Details = $"worklist C-FIND at {m.AET}: {found.Answers.Count} answer(s){(found.Truncated ? " (truncated)" : "")}",
        });
        return found;
    }

    /// <summary>
    /// The answers of one C-FIND in one association: at most QueryRetrieveMaximumAnswers, the rest cancelled
    /// (C-CANCEL, PS3.7 §9.1.2.1).
    /// </summary>
    private async Task<FindResult> FindAnswersAsync(ModalityOptions m, string sopClass, DicomDataset query, CancellationToken ct)
    {
        var limit = options.CurrentValue.QueryRetrieveMaximumAnswers;
        await using var client = await DicomClient.ConnectAsync(m.Host, m.Port, LocalAetFor(m), m.AET, [(sopClass, SopClasses.Uncompressed)], Scu(m), tls: tls.For(m), ct: ct);
        var answers = new List<DicomDataset>();
        using var enough = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var truncated = false;
        try
        {
            await foreach (var answer in client.FindAsync(sopClass, query, enough.Token))
            {
                if (answers.Count == limit)
                {
                    truncated = true;
                    await enough.CancelAsync(); // C-CANCEL; the peer's remaining answers are not kept
                    break;
                }
                answers.Add(answer);
            }
        }
        catch (OperationCanceledException) when (truncated && !ct.IsCancellationRequested) { }
        return new FindResult(answers, truncated);
    }
}
