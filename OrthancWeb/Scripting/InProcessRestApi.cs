using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;
using OrthancWeb.Ingest;
using OrthancWeb.Security;

namespace OrthancWeb.Scripting;

/// <summary>
/// The server's own REST API called from inside the process, as Orthanc's RestApiGet/Post/Put/Delete call its handlers
/// directly: the request goes through the very pipeline a network request takes (Orthanc path tolerance, error JSON,
/// authorization, controllers), built by the host, without a socket, a port, TLS or a password.
/// </summary>
/// <remarks>
/// Why not an HttpClient to our own listener: it would need a credential kept somewhere, would depend on which ports
/// are open (HttpPort may be 0, loopback may be firewalled) and would cross the kernel twice per call. The pipeline is
/// captured by a startup filter (the first middleware, ahead of routing), so the middleware order in Program.cs does not
/// matter. Requests run as <see cref="Principal"/> (an Administrator: Orthanc's Lua calls are never restricted) and
/// carry <see cref="InternalRequestFeature"/>, which exempts them from IncomingHttpRequestFilter as in Orthanc (the filter
/// sees HTTP clients only), and makes their uploads' Origin "Lua".
/// </remarks>
public sealed class InProcessRestApi(IServiceScopeFactory scopes)
{
    private RequestDelegate? _pipeline;

    /// <summary>The identity of internal requests: its name is what the audit trail shows.</summary>
    public static ClaimsPrincipal Principal { get; } = new(new ClaimsIdentity(
        [new Claim(ClaimTypes.Name, "lua"), new Claim(ClaimTypes.Role, Roles.Administrator)], authenticationType: "Lua"));

    internal void Attach(RequestDelegate pipeline) => _pipeline = pipeline;

    public bool IsReady => _pipeline is not null;

    /// <summary>One request; the answer's status and body (the body of a failure is Orthanc's error JSON).</summary>
    public async Task<(int Status, byte[] Body)> SendAsync(string method, string uri, byte[]? body, IReadOnlyDictionary<string, string>? headers, CancellationToken ct)
    {
        var pipeline = _pipeline ?? throw new InvalidOperationException("The REST API is not running yet");
        var queryAt = uri.IndexOf('?', StringComparison.Ordinal);
        var path = queryAt < 0 ? uri : uri[..queryAt];
        if (!path.StartsWith('/')) path = "/" + path;
        var request = new HttpRequestFeature
        {
            Method = method,
            Scheme = "http",
            Protocol = "HTTP/1.1",
            Path = Uri.UnescapeDataString(path),
            RawTarget = uri,
            QueryString = queryAt < 0 ? "" : uri[queryAt..],
            Body = new MemoryStream(body ?? [], writable: false),
        };
        foreach (var (name, value) in headers ?? new Dictionary<string, string>()) request.Headers[name] = value;
        request.Headers.Host = "localhost";
        // A write with a signed-in user must come from our own origin (UseSameOriginWrites): it does.
        request.Headers.Origin = "http://localhost";
        if (body is not null) request.Headers.ContentLength = body.Length;
        using var responseBody = new MemoryStream();
        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(request);
        features.Set<IHttpResponseFeature>(new HttpResponseFeature());
        features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(responseBody));
        features.Set<IHttpConnectionFeature>(new HttpConnectionFeature { RemoteIpAddress = IPAddress.Loopback, LocalIpAddress = IPAddress.Loopback });
        features.Set<IHttpAuthenticationFeature>(new HttpAuthenticationFeature { User = Principal });
        features.Set(new InternalRequestFeature());
        features.Set(new RequestOriginFeature(IngestOrigin.Lua));
        await using var scope = scopes.CreateAsyncScope();
        var context = new DefaultHttpContext(features) { RequestServices = scope.ServiceProvider };
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        features.Set<IHttpRequestLifetimeFeature>(new HttpRequestLifetimeFeature { RequestAborted = cancel.Token });
        await pipeline(context);
        await context.Response.CompleteAsync();
        return (context.Response.StatusCode, responseBody.ToArray());
    }
}

/// <summary>Marks a request made by a Lua script through <see cref="InProcessRestApi"/>.</summary>
public sealed class InternalRequestFeature;

/// <summary>Puts <see cref="InProcessRestApi"/> in front of the whole pipeline, routing included.</summary>
internal sealed class InProcessRestApiStartup(InProcessRestApi api) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(rest =>
        {
            api.Attach(rest);
            return rest;
        });
        next(app);
    };
}
