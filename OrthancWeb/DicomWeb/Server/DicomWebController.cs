using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.DicomWeb.Server;

/// <summary>
/// The DICOMweb origin server under /dicom-web (PS3.18 10.4 to 10.6): thin routes over <see cref="QidoService"/>,
/// <see cref="WadoService"/> and <see cref="StowService"/>, behind the same cookie or Basic authentication and roles
/// as the rest of the server.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("dicom-web")]
public sealed class DicomWebController(QidoService qido, WadoService wado, StowService stow) : ControllerBase
{
    // ---- QIDO-RS ----

    [HttpGet("studies")]
    public Task Studies(CancellationToken ct) => Search(ResourceLevel.Study, null, null, ct);

    [HttpGet("series")]
    public Task AllSeries(CancellationToken ct) => Search(ResourceLevel.Series, null, null, ct);

    [HttpGet("instances")]
    public Task AllInstances(CancellationToken ct) => Search(ResourceLevel.Instance, null, null, ct);

    [HttpGet("studies/{study}/series")]
    public Task SeriesOfStudy(string study, CancellationToken ct) => Search(ResourceLevel.Series, study, null, ct);

    [HttpGet("studies/{study}/instances")]
    public Task InstancesOfStudy(string study, CancellationToken ct) => Search(ResourceLevel.Instance, study, null, ct);

    [HttpGet("studies/{study}/series/{series}/instances")]
    public Task InstancesOfSeries(string study, string series, CancellationToken ct) => Search(ResourceLevel.Instance, study, series, ct);

    private Task Search(ResourceLevel level, string? study, string? series, CancellationToken ct) => Run(async () =>
    {
        var xml = DicomWebMedia.WantsXml(DicomWebMedia.Accepted(Request));
        var parameters = Request.Query.SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? ""))).ToList();
        var result = await qido.SearchAsync(new QidoRequest(level, study, series, parameters, DicomWebMedia.Root(Request)), ct);
        foreach (var warning in result.Warnings) Response.Headers.Append("Warning", warning);
        // An empty result is 200 with an empty array, as most clients (and orthanc) expect; 204 is allowed too (8.3.4).
        if (xml)
        {
            await DicomWebMedia.WriteXmlAsync(Response, result.Json, ct);
            return;
        }
        Response.ContentType = DicomWebMedia.DicomJson;
        await Response.Body.WriteAsync(result.Json, ct);
    });

    // ---- WADO-RS ----

    [HttpGet("studies/{study}")]
    public Task RetrieveStudy(string study, CancellationToken ct) => Run(() => wado.RetrieveAsync(HttpContext, new WebTarget(study), ct));

    [HttpGet("studies/{study}/series/{series}")]
    public Task RetrieveSeries(string study, string series, CancellationToken ct) => Run(() => wado.RetrieveAsync(HttpContext, new WebTarget(study, series), ct));

    [HttpGet("studies/{study}/series/{series}/instances/{instance}")]
    public Task RetrieveInstance(string study, string series, string instance, CancellationToken ct) =>
        Run(() => wado.RetrieveAsync(HttpContext, new WebTarget(study, series, instance), ct));

    [HttpGet("studies/{study}/metadata")]
    public Task StudyMetadata(string study, CancellationToken ct) => Run(() => wado.MetadataAsync(HttpContext, new WebTarget(study), ct));

    [HttpGet("studies/{study}/series/{series}/metadata")]
    public Task SeriesMetadata(string study, string series, CancellationToken ct) => Run(() => wado.MetadataAsync(HttpContext, new WebTarget(study, series), ct));

    [HttpGet("studies/{study}/series/{series}/instances/{instance}/metadata")]
    public Task InstanceMetadata(string study, string series, string instance, CancellationToken ct) =>
        Run(() => wado.MetadataAsync(HttpContext, new WebTarget(study, series, instance), ct));

    [HttpGet("studies/{study}/series/{series}/instances/{instance}/frames/{frames}")]
    public Task Frames(string study, string series, string instance, string frames, CancellationToken ct) =>
        Run(() => wado.FramesAsync(HttpContext, new WebTarget(study, series, instance), frames, ct));

    [HttpGet("studies/{study}/series/{series}/instances/{instance}/bulk/{**location}")]
    public Task BulkData(string study, string series, string instance, string location, CancellationToken ct) =>
        Run(() => wado.BulkDataAsync(HttpContext, new WebTarget(study, series, instance), location, ct));

    [HttpGet("studies/{study}/rendered")]
    public Task StudyRendered(string study, CancellationToken ct) => Run(() => wado.RenderedAsync(HttpContext, new WebTarget(study), 1, false, ct));

    [HttpGet("studies/{study}/series/{series}/rendered")]
    public Task SeriesRendered(string study, string series, CancellationToken ct) => Run(() => wado.RenderedAsync(HttpContext, new WebTarget(study, series), 1, false, ct));

    [HttpGet("studies/{study}/series/{series}/instances/{instance}/rendered")]
    public Task InstanceRendered(string study, string series, string instance, CancellationToken ct) =>
        Run(() => wado.RenderedAsync(HttpContext, new WebTarget(study, series, instance), 1, false, ct));

    [HttpGet("studies/{study}/series/{series}/instances/{instance}/frames/{frame:int}/rendered")]
    public Task FrameRendered(string study, string series, string instance, int frame, CancellationToken ct) =>
        Run(() => wado.RenderedAsync(HttpContext, new WebTarget(study, series, instance), frame, false, ct));

    [HttpGet("studies/{study}/thumbnail")]
    public Task StudyThumbnail(string study, CancellationToken ct) => Run(() => wado.RenderedAsync(HttpContext, new WebTarget(study), 1, true, ct));

    [HttpGet("studies/{study}/series/{series}/thumbnail")]
    public Task SeriesThumbnail(string study, string series, CancellationToken ct) => Run(() => wado.RenderedAsync(HttpContext, new WebTarget(study, series), 1, true, ct));

    [HttpGet("studies/{study}/series/{series}/instances/{instance}/thumbnail")]
    public Task InstanceThumbnail(string study, string series, string instance, CancellationToken ct) =>
        Run(() => wado.RenderedAsync(HttpContext, new WebTarget(study, series, instance), 1, true, ct));

    [HttpGet("studies/{study}/series/{series}/instances/{instance}/frames/{frame:int}/thumbnail")]
    public Task FrameThumbnail(string study, string series, string instance, int frame, CancellationToken ct) =>
        Run(() => wado.RenderedAsync(HttpContext, new WebTarget(study, series, instance), frame, true, ct));

    // ---- STOW-RS ----

    [HttpPost("studies")]
    [Authorize(Policy = Policies.Modify)]
    [DisableRequestSizeLimit]
    public Task Store(CancellationToken ct) => StoreTo(null, ct);

    [HttpPost("studies/{study}")]
    [Authorize(Policy = Policies.Modify)]
    [DisableRequestSizeLimit]
    public Task StoreToStudy(string study, CancellationToken ct) => StoreTo(study, ct);

    private Task StoreTo(string? study, CancellationToken ct) => Run(async () =>
    {
        var result = await stow.StoreAsync(Request, study, DicomWebMedia.Root(Request), ct);
        foreach (var warning in result.Warnings) Response.Headers.Append("Warning", warning);
        Response.StatusCode = result.Status;
        Response.ContentType = DicomWebMedia.DicomJson;
        await Response.Body.WriteAsync(result.Json, ct);
    });

    /// <summary>A refusal before the answer started: its status, a Warning (8.4.2) and the reason as text; after, the connection is cut.</summary>
    private async Task Run(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (DicomWebException ex) when (!Response.HasStarted)
        {
            Response.Clear();
            Response.StatusCode = ex.Status;
            Response.Headers.Append("Warning", DicomWebMedia.Warning(ex.Message));
            Response.ContentType = "text/plain; charset=utf-8";
            await Response.WriteAsync(ex.Message + "\n");
        }
    }
}
