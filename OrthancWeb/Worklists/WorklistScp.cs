using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Networking;

namespace OrthancWeb.Worklists;

/// <summary>
/// Modality Worklist Information Model – FIND (PS3.4 K.6.1): the listener's C-FIND handler passes worklist queries here
/// once the modality's AllowFindWorklist is checked. Each scheduled item (index, then folder) is matched and answered
/// with the requested keys; the query is in the audit trail with its number of matches.
/// </summary>
public sealed class WorklistScp(WorklistStore store, IOptionsMonitor<WorklistOptions> options, IAuditTrail audit) : IWorklistSource
{
    public async IAsyncEnumerable<DicomDataset> FindAsync(DimseContext context, DicomDataset identifier, [EnumeratorCancellation] CancellationToken ct)
    {
        var query = new WorklistQuery(identifier);
        var answers = new List<DicomDataset>();
        var limit = options.CurrentValue.MaximumAnswers;
        await foreach (var item in store.ScheduledAsync(ct))
        {
            if (!query.Matches(item)) continue;
            answers.Add(query.Answer(item));
            if (answers.Count >= limit) break;
        }
        // Recorded before the answers go: a query is an access to patient data even when cancelled half-way.
        audit.Record(new AuditEvent(AuditActions.CFind, AuditOutcome.Success)
        {
            ResourceLevel = "Worklist",
            PatientId = NonEmpty(identifier.GetString(DicomTags.PatientID)),
            Details = $"{answers.Count} worklist match(es)",
        });
        foreach (var answer in answers) yield return answer;
    }

    private static string? NonEmpty(string? v) => string.IsNullOrWhiteSpace(v) || v.Contains('*') || v.Contains('?') ? null : v.Trim();
}
