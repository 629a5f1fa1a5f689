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
