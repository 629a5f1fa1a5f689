using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Ingest;

namespace OrthancWeb.Scripting;

/// <summary>
/// ReceivedInstanceFilter(tags, origin, info) and ReceivedCStoreInstanceFilter(tags, origin, info), asked by the ingest
/// path before an instance is stored. The first answers a boolean (false: the instance is discarded, and Orthanc 1.10
/// still answers Success or "FilteredOut"); the second, for C-STORE only, a DIMSE status (0 accepts; anything else
/// refuses the instance with that status, as later Orthanc versions do).
/// </summary>
/// <remarks>
/// This is the one callback a sender waits on; it runs only when the scripts define it. A filter that throws refuses
/// the instance (as in Orthanc, where the exception fails the store): nothing is stored that the script did not accept.
/// </remarks>
public sealed class LuaReceivedInstanceFilter(LuaEngine lua) : IReceivedInstanceFilter
{
    public bool IsActive => lua.Defines("ReceivedInstanceFilter") || lua.Defines("ReceivedCStoreInstanceFilter");

    public async ValueTask<FilterVerdict> FilterAsync(DicomDataset header, IngestSource source, string transferSyntaxUid, bool hasPixelData, CancellationToken ct)
    {
        var tags = new OrthancJson().ToSimplified(header);
        var origin = Origin(source);
        var info = new JsonObject { ["HasPixelData"] = hasPixelData, ["TransferSyntaxUID"] = transferSyntaxUid };
        if (!await lua.PredicateAsync("ReceivedInstanceFilter", [tags, origin, info], ct)) return new FilterVerdict(false);
        if (source.Origin == IngestOrigin.DicomProtocol && lua.Defines("ReceivedCStoreInstanceFilter"))
        {
            var status = await lua.EvaluateAsync("ReceivedCStoreInstanceFilter", [tags, origin, info], ct);
            if (status is JsonValue v && v.TryGetValue<long>(out var code) && code != 0) return new FilterVerdict(false, (ushort)code);
        }
        return FilterVerdict.Accept;
    }

    /// <summary>Orthanc's "origin" table: RequestOrigin, then RemoteAet/CalledAet/RemoteIp (DICOM) or RemoteIp/Username (REST).</summary>
    public static JsonObject Origin(IngestSource source)
    {
        var origin = new JsonObject { ["RequestOrigin"] = source.Origin.ToString() };
        if (source.Origin == IngestOrigin.DicomProtocol)
        {
            origin["RemoteAet"] = source.RemoteAet ?? "";
            origin["CalledAet"] = source.CalledAet ?? "";
        }
        if (source.RemoteIp is not null) origin["RemoteIp"] = source.RemoteIp;
        if (source.Origin == IngestOrigin.RestApi) origin["Username"] = source.Username ?? "";
        return origin;
    }
}

/// <summary>
/// IncomingHttpRequestFilter(method, uri, ip, username, headers): asked for every HTTP request once its user is known;
/// false answers 403, as in Orthanc. The scripts' own RestApi* calls are not asked (they are not HTTP requests, in
/// Orthanc either), so a filter that calls the REST API cannot lock itself out.
/// </summary>
public sealed class LuaHttpRequestFilter(RequestDelegate next, LuaEngine lua)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!lua.Defines("IncomingHttpRequestFilter") || context.Features.Get<InternalRequestFeature>() is not null)
        {
            await next(context);
            return;
        }
        var request = context.Request;
        var headers = new JsonObject();
        foreach (var (name, values) in request.Headers) headers[name.ToLowerInvariant()] = values.ToString();
        var user = context.User.Identity?.IsAuthenticated == true ? context.User.Identity.Name ?? "" : "";
        bool allowed;
        try
        {
            allowed = await lua.PredicateAsync("IncomingHttpRequestFilter",
                [request.Method, request.Path.Value ?? "/", context.Connection.RemoteIpAddress?.ToString() ?? "", user, headers], context.RequestAborted);
        }
        catch (LuaScriptException)
        {
            allowed = false; // a broken filter denies rather than lets everything through
        }
        if (allowed)
        {
            await next(context);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
    }
}

/// <summary>
/// IncomingFindRequestFilter(query, origin) and OutgoingFindRequestFilter(query, modality): the C-FIND identifier as
/// Orthanc's simplified JSON (keywords), returned rewritten; what the script returns replaces the identifier (a table
/// of keyword or "gggg,eeee" to string), nil leaves it. A filter that fails fails the C-FIND, as in Orthanc.
/// </summary>
public sealed class LuaFindRequestFilter(LuaEngine lua) : Networking.IFindRequestFilter
{
    public async Task<DicomDataset?> FilterIncomingAsync(DicomDataset identifier, string remoteAet, string? remoteIp, string calledAet, CancellationToken ct)
    {
        if (!lua.Defines("IncomingFindRequestFilter")) return null;
        var origin = new JsonObject { ["RequestOrigin"] = "DicomProtocol", ["RemoteAet"] = remoteAet, ["CalledAet"] = calledAet, ["RemoteIp"] = remoteIp ?? "" };
        return Identifier(await lua.EvaluateAsync("IncomingFindRequestFilter", [new OrthancJson().ToSimplified(identifier), origin], ct), identifier);
    }

    public async Task<DicomDataset?> FilterOutgoingAsync(DicomDataset identifier, Networking.ModalityOptions modality, CancellationToken ct)
    {
        if (!lua.Defines("OutgoingFindRequestFilter")) return null;
        var parameters = new JsonObject { ["AET"] = modality.AET, ["Host"] = modality.Host, ["Port"] = modality.Port, ["Manufacturer"] = modality.Manufacturer };
        return Identifier(await lua.EvaluateAsync("OutgoingFindRequestFilter", [new OrthancJson().ToSimplified(identifier), parameters], ct), identifier);
    }

    /// <summary>The script's table as an identifier; each value keeps the VR the original had for its tag, else the dictionary's.</summary>
    private static DicomDataset? Identifier(JsonNode? result, DicomDataset original)
    {
        if (result is not JsonObject fields) return null;
        var ds = new DicomDataset();
        foreach (var (key, value) in fields)
        {
            if (!DicomTag.TryParse(key, out var tag))
                throw new Dicom.DicomValidationException($"The Lua find filter returned an unknown tag: {key}");
            if (value is JsonArray) continue; // sequences are not rewritten here
            var text = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value?.ToJsonString() ?? "";
            if (original.TryGet(tag, out var item)) ds.Add(tag, item.VR, text);
            else ds.Add(tag, text);
        }
        return ds;
    }
}
