using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace OrthancWeb.Security;

/// <summary>
/// The headers every response carries, in one place so that a path can be given its own policy (issue 17 will host
/// OHIF under the server): <c>services.Configure&lt;SecurityHeaderOptions&gt;(o =&gt; o.PathPolicies["/ohif"] = "...")</c>.
/// </summary>
public sealed class SecurityHeaderOptions
{
    /// <summary>Stands for the per-response nonce in a policy (the only inline script is Blazor's import map).</summary>
    public const string NoncePlaceholder = "{nonce}";

    /// <summary>
    /// What Blazor Server and MudBlazor need and nothing more: scripts from this server only (and the import map by its
    /// nonce), inline styles (MudBlazor sets style attributes), images also as data: and blob: URLs (the viewer),
    /// the circuit's WebSocket to this origin, no plug-ins, no framing by other sites (CSP Level 3 frame-ancestors),
    /// forms posted to this origin only.
    /// </summary>
    public string ContentSecurityPolicy { get; set; } =
        "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
        "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Policies for paths that need another one, by path prefix (the longest matching prefix wins).</summary>
    public Dictionary<string, string> PathPolicies { get; } = new(StringComparer.OrdinalIgnoreCase)
    {
        // Swagger UI's page starts itself with an inline script.
        ["/api-docs"] = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
                        "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
    };

    public string PolicyFor(PathString path)
    {
        string? best = null;
        var bestLength = -1;
        foreach (var (prefix, policy) in PathPolicies)
        {
            if (prefix.Length > bestLength && path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase))
                (best, bestLength) = (policy, prefix.Length);
        }
        return best ?? ContentSecurityPolicy;
    }
}

public static class SecurityHeaders
{
    private static readonly object s_nonceKey = new();

    /// <summary>The nonce of this response's Content-Security-Policy, for the page's inline script (Blazor's import map).</summary>
    public static string? Nonce(HttpContext context) => context.Items.TryGetValue(s_nonceKey, out var n) ? n as string : null;

    /// <summary>
    /// Content-Security-Policy, X-Frame-Options DENY (for browsers without frame-ancestors), nosniff, a referrer policy
    /// that never sends our URLs (they hold study IDs) to another site, and HSTS (RFC 6797) on HTTPS responses.
    /// HSTS is left off for loopback names, as ASP.NET does: it would hold for every port of "localhost" in the browser.
    /// </summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<IOptions<SecurityHeaderOptions>>().Value;
        var hstsMaxAge = app.ApplicationServices.GetRequiredService<IOptions<SecurityOptions>>().Value.HstsMaxAge;
        return app.Use((context, next) =>
        {
            var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            context.Items[s_nonceKey] = nonce;
            // Set as the answer starts, over what the endpoint set: Blazor adds its own "frame-ancestors 'self'" policy
            // to interactive pages, and two policies would both apply; this one is the policy.
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                headers.ContentSecurityPolicy = options.PolicyFor(context.Request.Path).Replace(SecurityHeaderOptions.NoncePlaceholder, nonce, StringComparison.Ordinal);
                headers.XFrameOptions = "DENY";
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "same-origin";
                if (context.Request.IsHttps && hstsMaxAge > 0 && !IsLoopbackName(context.Request.Host.Host))
                    headers.StrictTransportSecurity = $"max-age={hstsMaxAge}";
                return Task.CompletedTask;
            });
            return next(context);
        });
    }

    private static bool IsLoopbackName(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ||
        (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
