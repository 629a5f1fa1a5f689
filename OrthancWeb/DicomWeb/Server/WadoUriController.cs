using System.Globalization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Security;

namespace OrthancWeb.DicomWeb.Server;

/// <summary>
/// WADO-URI (PS3.18 9): one instance by its three UIDs, as application/dicom or a rendered JPEG or PNG. Served at
/// /wado as Orthanc's plugin does, and under /dicom-web/wado beside the RESTful services.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.View)]
public sealed class WadoUriController(WadoService wado) : ControllerBase
{
    [HttpGet("wado")]
    [HttpGet("dicom-web/wado")]
    public async Task Get(CancellationToken ct)
    {
        var q = Request.Query;
        try
        {
            if (!q["requestType"].ToString().Equals("WADO", StringComparison.Ordinal))
                throw DicomWebException.BadRequest("requestType must be WADO (PS3.18 9.1.2.1.1)");
            string Required(string name) => q[name].ToString() is { Length: > 0 } v ? v : throw DicomWebException.BadRequest($"{name} is required");
            var target = new WebTarget(Required("studyUID"), Required("seriesUID"), Required("objectUID"));
            // contentType may list several, in preference order (9.1.2.1.5); image/jpeg is the default for images.
            var types = q["contentType"].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var type = types.FirstOrDefault(t => t.Split(';')[0].Trim() is DicomWebMedia.Dicom or "image/jpeg" or "image/png" or "*/*")?.Split(';')[0].Trim()
                ?? (types.Length == 0 ? "image/jpeg" : throw DicomWebException.NotAcceptable($"contentType {q["contentType"]} is not offered: application/dicom, image/jpeg or image/png"));
            if (type == DicomWebMedia.Dicom)
            {
                var syntax = q["transferSyntax"].ToString();
                // Explicit VR Little Endian unless a syntax is named (PS3.18 8.2.11), as WADO-RS does; "*" asks for it as stored.
                Request.Headers.Accept = $"multipart/related; type=\"application/dicom\"; transfer-syntax={(syntax.Length > 0 ? syntax : TransferSyntax.ExplicitVRLittleEndian.Uid)}";
                await wado.InstanceFileAsync(HttpContext, target, ct);
                return;
            }
            // The rendered form with WADO-URI's own parameter names, mapped onto WADO-RS's.
            var parameters = new Dictionary<string, Microsoft.Extensions.Primitives.StringValues>(StringComparer.OrdinalIgnoreCase);
            if (q["windowCenter"].ToString() is { Length: > 0 } c && q["windowWidth"].ToString() is { Length: > 0 } w) parameters["window"] = $"{c},{w}";
            var rows = q["rows"].ToString();
            var columns = q["columns"].ToString();
            if (rows.Length > 0 || columns.Length > 0) parameters["viewport"] = $"{(columns.Length > 0 ? columns : rows)},{(rows.Length > 0 ? rows : columns)}";
            if (q["imageQuality"].ToString() is { Length: > 0 } quality) parameters["quality"] = quality;
            Request.Query = new QueryCollection(parameters);
            Request.Headers.Accept = type == "image/png" ? "image/png" : "image/jpeg";
            var frame = int.TryParse(q["frameNumber"], NumberStyles.None, CultureInfo.InvariantCulture, out var f) ? f : 1;
            await wado.RenderedAsync(HttpContext, target, frame, thumbnail: false, ct);
        }
        catch (DicomWebException ex) when (!Response.HasStarted)
        {
            Response.StatusCode = ex.Status;
            Response.ContentType = "text/plain; charset=utf-8";
            await Response.WriteAsync(ex.Message + "\n", ct);
        }
    }
}
