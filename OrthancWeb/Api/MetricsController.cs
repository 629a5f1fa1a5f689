using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Monitoring;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>Orthanc's /tools/metrics switch and /tools/metrics-prometheus.</summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("tools")]
public sealed class MetricsController(ServerMetrics metrics) : ControllerBase
{
    /// <summary>"1" when the figures are published, "0" when MetricsEnabled is off (text/plain, as Orthanc).</summary>
    [HttpGet("metrics")]
    public IActionResult Enabled() => Content(metrics.Enabled ? "1" : "0", "text/plain");

    /// <summary>Turns publishing on or off until the server stops; Orthanc's booleans ("1", "0", "true", "false").</summary>
    [HttpPut("metrics")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> SetEnabled(CancellationToken ct)
    {
        using var reader = new StreamReader(Request.Body);
        switch ((await reader.ReadToEndAsync(ct)).Trim())
        {
            case "1" or "true": metrics.Enabled = true; break;
            case "0" or "false": metrics.Enabled = false; break;
            default: return ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.BadFileFormat, "Boolean value expected"));
        }
        return Content("", "text/plain");
    }

    /// <summary>The figures in Prometheus' text format: Orthanc's names, then ours (empty when metrics are off).</summary>
    [HttpGet("metrics-prometheus")]
    public async Task<IActionResult> Prometheus(CancellationToken ct) =>
        Content(await metrics.ScrapeAsync(ct), PrometheusText.ContentType);
}
