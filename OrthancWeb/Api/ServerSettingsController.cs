using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Hosting;
using OrthancWeb.Networking;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// Orthanc's run-time settings under /tools: the accepted transfer syntaxes, unknown SOP classes, the log level, and the
/// DICOM conformance statement. Changes last until the server stops, as in Orthanc (the file keeps its own values).
/// </summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("tools")]
public sealed class ServerSettingsController(DicomAcceptance acceptance, RuntimeLogLevel logLevel) : ControllerBase
{
    [HttpGet("accepted-transfer-syntaxes")]
    public IActionResult AcceptedTransferSyntaxes() => Ok(Syntaxes());

    /// <summary>A UID, a pattern or a list of them, as a JSON string or array (or plain text); answers the new list.</summary>
    [HttpPut("accepted-transfer-syntaxes")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> SetAcceptedTransferSyntaxes(CancellationToken ct)
    {
        var body = (await ReadBodyAsync(ct)).Trim();
        List<string> patterns;
        try
        {
            patterns = body.StartsWith('[') || body.StartsWith('"')
                ? JsonNode.Parse(body) switch
                {
                    JsonArray a => a.Select(n => n!.GetValue<string>()).ToList(),
                    JsonValue v => [v.GetValue<string>()],
                    _ => throw new FormatException(),
                }
                : [body];
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or NullReferenceException)
        {
            return ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.BadFileFormat, "Expected a transfer syntax UID, a pattern, or a JSON list of them"));
        }
        if (DicomAcceptance.Matching(patterns).Count == 0)
            return ApiJson.Error(HttpContext, 400, $"No transfer syntax matches {string.Join(", ", patterns)}");
        acceptance.Accept(patterns);
        return Ok(Syntaxes());
    }

    private JsonArray Syntaxes() =>
        new(DicomAcceptance.KnownSyntaxes.Where(acceptance.Accepted.Contains).Select(u => (JsonNode)u).ToArray());

    [HttpGet("unknown-sop-class-accepted")]
    public IActionResult UnknownSopClassAccepted() => Content(acceptance.UnknownSopClassAccepted ? "1" : "0", "text/plain");

    [HttpPut("unknown-sop-class-accepted")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> SetUnknownSopClassAccepted(CancellationToken ct)
    {
        // Orthanc's booleans: true/false or 1/0.
        bool? value = (await ReadBodyAsync(ct)).Trim().ToLowerInvariant() switch { "1" or "true" => true, "0" or "false" => false, _ => null };
        if (value is null) return ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.BadFileFormat, "Boolean value expected"));
        acceptance.UnknownSopClassAccepted = value.Value;
        return Content("", "text/plain");
    }

    [HttpGet("log-level")]
    public IActionResult LogLevel() => Content(logLevel.Current, "text/plain");

    [HttpPut("log-level")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> SetLogLevel(CancellationToken ct)
    {
        var name = await ReadBodyAsync(ct);
        return logLevel.TrySet(name) ? Content("", "text/plain")
            : ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.ParameterOutOfRange, $"Unknown log level '{name.Trim()}': one of {string.Join(", ", RuntimeLogLevel.Names)}"));
    }

    /// <summary>What the DICOM listener offers, from the same tables its negotiation uses.</summary>
    [HttpGet("dicom-conformance")]
    public IActionResult DicomConformance()
    {
        var text = new StringBuilder();
        text.AppendLine("=========================================").AppendLine("DICOM Conformance Statement of OrthancWeb")
            .AppendLine("=========================================").AppendLine();
        text.AppendLine("Services as SCP: C-ECHO, C-STORE, C-FIND (patient/study root, worklist), C-MOVE, C-GET, storage commitment (N-ACTION).")
            .AppendLine("Services as SCU: C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET, storage commitment (N-ACTION, N-EVENT-REPORT).").AppendLine();
        text.AppendLine("Storage SOP classes accepted:");
        foreach (var uid in SopClasses.Storage) text.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"  {uid}  {DicomUids.Find(uid)?.Name}");
        text.AppendLine().AppendLine("Transfer syntaxes accepted for storage:");
        foreach (var uid in DicomAcceptance.KnownSyntaxes.Where(acceptance.Accepted.Contains)) text.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"  {uid}  {DicomUids.Find(uid)?.Name}");
        text.AppendLine().AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"SOP classes the dictionary does not know: {(acceptance.UnknownSopClassAccepted ? "accepted" : "refused")}");
        return Content(text.ToString(), "text/plain");
    }

    private async Task<string> ReadBodyAsync(CancellationToken ct)
    {
        using var reader = new StreamReader(Request.Body);
        return await reader.ReadToEndAsync(ct);
    }
}
