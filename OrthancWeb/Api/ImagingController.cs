using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Explorer;
using OrthancWeb.Imaging;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>Orthanc's imaging routes: /instances/{id}/preview, /rendered, /frames and per-frame images.</summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("instances/{id}")]
public sealed class ImagingController(RenderingService rendering, IAuditTrail audit) : ControllerBase
{
    [HttpGet("frames")]
    public async Task<IActionResult> Frames(string id, CancellationToken ct) => await WithInstance(id, loaded =>
        Ok(new JsonArray(Enumerable.Range(0, loaded.Frames.FrameCount).Select(i => (JsonNode)i.ToString(CultureInfo.InvariantCulture)).ToArray())), ct);

    [HttpGet("preview")]
    public Task<IActionResult> Preview(string id, CancellationToken ct) => Image(id, 0, "preview", ct);

    [HttpGet("rendered")]
    public Task<IActionResult> Rendered(string id, CancellationToken ct) => Image(id, 0, "rendered", ct);

    [HttpGet("frames/{frame:int}/{kind:regex(^(preview|rendered|image-uint8|image-uint16|image-int16|raw)$)}")]
    public Task<IActionResult> Frame(string id, int frame, string kind, CancellationToken ct) => Image(id, frame, kind, ct);

    /// <summary>Every frame as one NumPy array (see <see cref="NumpyArrays"/>).</summary>
    [HttpGet("numpy")]
    public Task<IActionResult> Numpy(string id, CancellationToken ct) => NumpyAsync(id, null, ct);

    /// <summary>One frame as a NumPy array; a frame that is not a number, or beyond the last, is orthanc's 400 (code 3).</summary>
    [HttpGet("frames/{frame}/numpy")]
    public Task<IActionResult> FrameNumpy(string id, string frame, CancellationToken ct) =>
        uint.TryParse(frame, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= int.MaxValue
            ? NumpyAsync(id, (int)n, ct)
            : Task.FromResult<IActionResult>(ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.ParameterOutOfRange, "Expected an unsigned integer for the \"frame\" argument")));

    private async Task<IActionResult> NumpyAsync(string id, int? frame, CancellationToken ct)
    {
        if (QueryFlag("compress", false) is not { } compress) return BooleanExpected("compress");
        if (QueryFlag("rescale", true) is not { } rescale) return BooleanExpected("rescale");
        return await WithInstance(id, loaded =>
        {
            if (frame >= loaded.Frames.FrameCount) return FrameBeyondLast(loaded, frame.Value);
            var frames = frame is { } one ? [one] : Enumerable.Range(0, loaded.Frames.FrameCount).ToList();
            var array = NumpyArrays.Encode(loaded, frames, frameAxis: frame is null, rescale, compress);
            return array is null
                ? ApiJson.Error(HttpContext, new ApiError(500, OrthancErrorCode.NotImplemented, $"no NumPy array for {loaded.Frames.Info.Photometric} with {loaded.Frames.Info.BitsAllocated}-bit samples"))
                : File(array, "application/octet-stream");
        }, ct);
    }

    /// <summary>The first frame as a MATLAB/Octave expression (see <see cref="MatlabText"/>): orthanc answers frame 0 of a multi-frame instance.</summary>
    [HttpGet("matlab")]
    public Task<IActionResult> Matlab(string id, CancellationToken ct) => MatlabAsync(id, 0, ct);

    /// <summary>One frame as a MATLAB/Octave expression; a frame that is not a number matches no route (orthanc's 404).</summary>
    [HttpGet("frames/{frame:int:min(0)}/matlab")]
    public Task<IActionResult> FrameMatlab(string id, int frame, CancellationToken ct) => MatlabAsync(id, frame, ct);

    private Task<IActionResult> MatlabAsync(string id, int frame, CancellationToken ct) => WithInstance(id, loaded =>
    {
        var unsupported = ApiJson.Error(HttpContext, new ApiError(500, OrthancErrorCode.NotImplemented,
            $"no MATLAB export for {loaded.Frames.Info.Photometric} with {loaded.Frames.Info.BitsAllocated}-bit samples"));
        if (!MatlabText.Supports(loaded.Frames)) return unsupported;
        if (frame >= loaded.Frames.FrameCount) return FrameBeyondLast(loaded, frame);
        return MatlabText.Encode(loaded, frame) is { } text ? Content(text, "text/plain") : unsupported;
    }, ct);

    /// <summary>
    /// Beyond the last frame, orthanc 1.10.1 answers 400 with "Parameter out of range" for native pixel data and
    /// "Bad file format" for encapsulated pixel data (its decoder finds no such fragment).
    /// </summary>
    private ObjectResult FrameBeyondLast(RenderingService.Loaded loaded, int frame) =>
        ApiJson.Error(HttpContext, new ApiError(400, loaded.Frames.IsEncapsulated ? OrthancErrorCode.BadFileFormat : OrthancErrorCode.ParameterOutOfRange,
            $"frame {frame} does not exist (the instance has {loaded.Frames.FrameCount})"));

    /// <summary>A GET flag as Orthanc reads it: absent is the default, present without a value is true, else 0/1/true/false.</summary>
    private bool? QueryFlag(string name, bool absent) =>
        !Request.Query.TryGetValue(name, out var value) ? absent
        : value.ToString() switch { "" or "1" or "true" => true, "0" or "false" => false, _ => null };

    private ObjectResult BooleanExpected(string name) =>
        ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.ParameterOutOfRange, $"Expected a Boolean for GET argument \"{name}\", found: {Request.Query[name]}"));

    private async Task<IActionResult> Image(string id, int frame, string kind, CancellationToken ct)
    {
        // Stored instances never change in place (a new copy gets a new attachment), so a frame's image is cacheable.
        // The tag names the request, not a secret: a fast non-cryptographic hash is enough.
        var etag = "\"" + Convert.ToHexStringLower(XxHash128.Hash(Encoding.UTF8.GetBytes($"{id}/{frame}/{kind}{Request.QueryString}/{Request.Headers.Accept}"))) + "\"";
        if (Request.Headers.IfNoneMatch.ToString() == etag) return StatusCode(304);
        Response.Headers.ETag = etag;
        Response.Headers.CacheControl = "private, max-age=86400";
        return await WithInstance(id, loaded =>
        {
            if (kind == "raw")
                return File(loaded.Frames.GetFrame(frame).ToArray(), "application/octet-stream");
            if (kind.StartsWith("image-", StringComparison.Ordinal))
                return File(rendering.RawPng(loaded, frame, kind), "image/png");
            var jpeg = Request.Headers.Accept.ToString().Contains("image/jpeg", StringComparison.OrdinalIgnoreCase)
                && !Request.Headers.Accept.ToString().Contains("image/png", StringComparison.OrdinalIgnoreCase);
            var options = new RenderOptions
            {
                WindowCenter = Number("window-center"),
                WindowWidth = Number("window-width"),
                Width = (int?)Number("width"),
                Height = (int?)Number("height"),
                Smooth = Request.Query["smooth"].ToString() is not ("0" or "false"),
            };
            if (jpeg)
                return File(rendering.RenderJpeg(loaded, frame, options, (int?)Number("quality") ?? 90), "image/jpeg");
            return File(rendering.RenderPng(loaded, frame, options), "image/png");
        }, ct);
    }

    private double? Number(string key) =>
        double.TryParse(Request.Query[key].ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;

    private async Task<IActionResult> WithInstance(string id, Func<RenderingService.Loaded, IActionResult> action, CancellationToken ct)
    {
        RenderingService.Loaded? loaded;
        try { loaded = await rendering.LoadAsync(id, ct); }
        catch (Dicom.Data.DicomReadException ex) { return ApiJson.Error(HttpContext, 400, "The stored file cannot be read: " + ex.Reason); }
        catch (ImagingException ex) { return ApiJson.Error(HttpContext, 400, ex.Message); }
        if (loaded is null) return ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}");
        // An image is patient data read (PS3.15 A.5.3.2, DICOM Instances Accessed); a 304 above sent nothing.
        audit.Record(ResourceAudit.For(AuditActions.View, ResourceLevel.Instance, id, loaded.File.Dataset, details: Request.Path.Value));
        // What cannot be decoded or rendered is answered by ApiErrors (400, 404 for a missing frame, 415 without a codec).
        return action(loaded);
    }
}
