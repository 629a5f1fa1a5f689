using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Audit;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>/audit: the audit trail for administrators: filtered pages, one entry, its DICOM audit message, a range as
/// XML, and the chain's verification. Every read of the trail is itself recorded (PS3.15 A.5.3.2 Audit Log Used).</summary>
[ApiController]
[Authorize(Policy = Policies.Administer)]
[Route("audit")]
public sealed class AuditController(AuditQueries queries, IAuditTrail trail, SyslogForwarder syslog) : ControllerBase
{
    /// <summary>?user=&amp;patient=&amp;action=&amp;outcome=&amp;since=&amp;until=&amp;limit=&amp;offset=, newest first; dates ISO 8601 (UTC unless an offset is given).</summary>
    [HttpGet("")]
    public async Task<IActionResult> List([FromQuery] string? user, [FromQuery] string? patient, [FromQuery] string? action,
        [FromQuery] string? outcome, [FromQuery] string? since, [FromQuery] string? until,
        [FromQuery] int limit = 100, [FromQuery] int offset = 0, CancellationToken ct = default)
    {
        if (ParseFilter(user, patient, action, outcome, since, until, out var filter) is { } error) return ApiJson.Error(HttpContext, 400, error);
        if (limit < 1 || limit > AuditQueries.MaximumPageSize || offset < 0)
            return ApiJson.Error(HttpContext, 400, $"limit must be 1..{AuditQueries.MaximumPageSize} and offset at least 0");
        var page = await queries.PageAsync(filter, offset, limit, ct);
        Response.Headers["X-Total-Count"] = page.Total.ToString(CultureInfo.InvariantCulture);
        RecordUse("list");
        return Ok(new JsonArray(page.Entries.Select(e => (JsonNode)Json(e)).ToArray()));
    }

    [HttpGet("verify")]
    public async Task<IActionResult> Verify(CancellationToken ct)
    {
        var result = await queries.VerifyAsync(ct);
        RecordUse("verify: " + result.Summary);
        return Ok(new JsonObject
        {
            ["Intact"] = result.Intact,
            ["Checked"] = result.Checked,
            ["FirstId"] = result.FirstId,
            ["LastId"] = result.LastId,
            ["FirstBrokenId"] = result.FirstBrokenId,
            ["Problem"] = result.Problem,
            ["Summary"] = result.Summary,
        });
    }

    /// <summary>A range in chain order as PS3.15 A.5 messages, in one &lt;AuditMessages&gt; document (same filters; limit up to 10000).</summary>
    [HttpGet("export")]
    public async Task<IActionResult> Export([FromQuery] string? user, [FromQuery] string? patient, [FromQuery] string? action,
        [FromQuery] string? outcome, [FromQuery] string? since, [FromQuery] string? until,
        [FromQuery] int limit = 1000, [FromQuery] int offset = 0, CancellationToken ct = default)
    {
        if (ParseFilter(user, patient, action, outcome, since, until, out var filter) is { } error) return ApiJson.Error(HttpContext, 400, error);
        var entries = await queries.RangeAsync(filter, offset, limit, ct);
        var host = Environment.MachineName;
        var root = new XElement("AuditMessages", entries.Select(e => DicomAuditMessage.Build(e, syslog.AuditSourceId, host)));
        RecordUse($"export of {entries.Count} entries");
        return Content("<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + root.ToString(SaveOptions.DisableFormatting), "application/xml", Encoding.UTF8);
    }

    [HttpGet("{id:long}")]
    public async Task<IActionResult> Get(long id, CancellationToken ct) =>
        await queries.GetAsync(id, ct) is { } e ? Ok(Json(e)) : ApiJson.Error(HttpContext, 404, $"Unknown audit entry: {id}");

    /// <summary>The entry as a DICOM audit message (PS3.15 A.5).</summary>
    [HttpGet("{id:long}/dicom")]
    public async Task<IActionResult> Dicom(long id, CancellationToken ct)
    {
        if (await queries.GetAsync(id, ct) is not { } e) return ApiJson.Error(HttpContext, 404, $"Unknown audit entry: {id}");
        RecordUse($"entry {id} as a DICOM audit message");
        return Content(DicomAuditMessage.ToXml(e, syslog.AuditSourceId, Environment.MachineName), "application/xml", Encoding.UTF8);
    }

    public static JsonObject Json(AuditEntry e) => new()
    {
        ["ID"] = e.Id,
        ["Time"] = DateTime.SpecifyKind(e.Time, DateTimeKind.Utc).ToString("O", CultureInfo.InvariantCulture),
        ["Action"] = e.Action,
        ["Outcome"] = e.Outcome.ToString(),
        ["EventOutcomeIndicator"] = (int)e.Outcome,
        ["User"] = e.User,
        ["Address"] = e.Address,
        ["Source"] = e.Source,
        ["PatientID"] = e.PatientId,
        ["ResourceLevel"] = e.ResourceLevel,
        ["ResourceID"] = e.ResourceId,
        ["StudyInstanceUID"] = e.StudyInstanceUid,
        ["Details"] = e.Details,
        ["PreviousHash"] = e.PreviousHash,
        ["Hash"] = e.Hash,
    };

    private void RecordUse(string what) =>
        trail.Record(new AuditEvent(AuditActions.AuditLogUsed, AuditOutcome.Success) { Details = what });

    internal static string? ParseFilter(string? user, string? patient, string? action, string? outcome, string? since, string? until, out AuditFilter filter)
    {
        filter = new AuditFilter();
        AuditOutcome? o = null;
        if (!string.IsNullOrEmpty(outcome))
        {
            if (!Enum.TryParse<AuditOutcome>(outcome, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
                return $"Unknown outcome: {outcome} (Success, MinorFailure, SeriousFailure, MajorFailure or 0, 4, 8, 12)";
            o = parsed;
        }
        DateTimeOffset? s = null, u = null;
        if (!string.IsNullOrEmpty(since))
        {
            if (!TryParseTime(since, out var v)) return $"since is not an ISO 8601 date or time: {since}";
            s = v;
        }
        if (!string.IsNullOrEmpty(until))
        {
            if (!TryParseTime(until, out var v)) return $"until is not an ISO 8601 date or time: {until}";
            u = v;
        }
        filter = new AuditFilter { User = NullIfEmpty(user), PatientId = NullIfEmpty(patient), Action = NullIfEmpty(action), Outcome = o, Since = s, Until = u };
        return null;
    }

    private static string? NullIfEmpty(string? v) => string.IsNullOrEmpty(v) ? null : v;

    private static bool TryParseTime(string text, out DateTimeOffset value) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value);
}
