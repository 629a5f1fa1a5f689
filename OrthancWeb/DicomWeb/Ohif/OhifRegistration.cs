using System.Text.RegularExpressions;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using OrthancWeb.Hosting;
using OrthancWeb.Security;

namespace OrthancWeb.DicomWeb.Ohif;

/// <summary>The OHIF viewer's ready-built bundle, served under /ohif/ with an app configuration pointing at our /dicom-web.</summary>
public static partial class OhifRegistration
{
    /// <summary>
    /// What OHIF needs beyond the UI's policy, and no more: its workers (scripts of this server, some started from
    /// blob: URLs), its WebAssembly codecs ('wasm-unsafe-eval', not 'unsafe-eval'), images and fetches of blob: and
    /// data: URLs it makes itself, and its two inline scripts by the response's nonce. OHIF does not need cross-origin
    /// isolation: the viewport and volume loaders use no SharedArrayBuffer any more; only the optional AI tools'
    /// onnxruntime would run multi-threaded with it, and falls back to one thread.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self' 'nonce-" + SecurityHeaderOptions.NoncePlaceholder + "' 'wasm-unsafe-eval'; " +
        "worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; " +
        "connect-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    public static IServiceCollection AddOhifViewer(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<OhifOptions>().Bind(configuration.GetSection(ServerOptions.Section))
            .Validate(o => o.Problem() is null, "OHIF: OrthancWeb:OhifPath must be a path (or empty)")
            .ValidateOnStart();
        services.AddSingleton<OhifViewer>();
        services.Configure<SecurityHeaderOptions>(o => o.PathPolicies[OhifViewer.BasePath] = ContentSecurityPolicy);
        return services;
    }

    public static WebApplication MapOhifViewer(this WebApplication app)
    {
        var viewer = app.Services.GetRequiredService<OhifViewer>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OhifViewer).FullName!);
        var group = app.MapGroup(OhifViewer.BasePath).RequireAuthorization(Policies.View);
        string[] methods = [HttpMethods.Get, HttpMethods.Head];
        if (!viewer.IsAvailable)
        {
            LogUnavailable(logger, viewer.Reason!);
            group.MapMethods("/{**path}", methods, () => Results.Text($"OHIF is not available on this server: {viewer.Reason}", statusCode: StatusCodes.Status404NotFound));
            return app;
        }
        LogAvailable(logger, OhifViewer.Version, OhifViewer.BasePath, viewer.BundleDirectory!);

        var files = new PhysicalFileProvider(viewer.BundleDirectory!);
        var types = new FileExtensionContentTypeProvider();
        types.Mappings[".jsonc"] = "application/json";
        types.Mappings[".wasm"] = "application/wasm";
        var compressed = new OhifCompressedFiles();
        var appConfig = OhifAppConfig.Script(app.Services.GetRequiredService<IOptions<ServerOptions>>().Value.Name);

        group.MapMethods("/app-config.js", methods, (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-cache";
            return Results.Text(appConfig, "text/javascript; charset=utf-8");
        });
        group.MapMethods("/{**path}", methods, (HttpContext context, string? path) =>
        {
            path ??= "";
            if (path.Length > 0 && path != "index.html")
            {
                var file = files.GetFileInfo(path);
                if (file is { Exists: true, IsDirectory: false, PhysicalPath: { } physical } && types.TryGetContentType(path, out var type))
                {
                    // Names with a content hash never change; the rest is checked again (ETag, Last-Modified) each time.
                    context.Response.Headers.CacheControl = HashedName().IsMatch(path) ? "private, max-age=31536000, immutable" : "private, no-cache";
                    var tag = $"{file.Length:x}-{file.LastModified.ToUnixTimeSeconds():x}";
                    if (!OhifCompressedFiles.IsCompressible(path))
                        return Results.File(physical, type, lastModified: file.LastModified, entityTag: new EntityTagHeaderValue($"\"{tag}\""), enableRangeProcessing: true);
                    context.Response.Headers.Vary = HeaderNames.AcceptEncoding;
                    if (!OhifCompressedFiles.AcceptsBrotli(context.Request))
                        return Results.File(physical, type, lastModified: file.LastModified, entityTag: new EntityTagHeaderValue($"\"{tag}\""), enableRangeProcessing: true);
                    context.Response.Headers.ContentEncoding = "br";
                    return Results.Bytes(compressed.Get(physical), type, lastModified: file.LastModified, entityTag: new EntityTagHeaderValue($"\"{tag}-br\""));
                }
                // A missing file is a 404, not the page: a script that is not there must not be answered with HTML.
                if (Path.HasExtension(path)) return Results.NotFound();
            }
            // OHIF's own routes (/ohif, /ohif/, /ohif/viewer?StudyInstanceUIDs=...) are its page, which routes in the browser.
            context.Response.Headers.CacheControl = "no-store";
            var nonce = SecurityHeaders.Nonce(context) ?? "";
            return Results.Content(viewer.IndexTemplate.Replace(SecurityHeaderOptions.NoncePlaceholder, nonce, StringComparison.Ordinal), "text/html; charset=utf-8");
        });
        return app;
    }

    /// <summary>webpack's content-hashed names: 2493.bundle.c4af70e46357151f.js, 0ddf166f7a343eda.wasm.</summary>
    [GeneratedRegex(@"(^|[./])[0-9a-f]{16}\.[a-z0-9]+$")]
    private static partial Regex HashedName();

    [LoggerMessage(LogLevel.Information, "OHIF {Version} is served under {BasePath}/ from {Folder}")]
    private static partial void LogAvailable(ILogger logger, string version, string basePath, string folder);

    [LoggerMessage(LogLevel.Warning, "OHIF is not available, and the Open in OHIF buttons are hidden: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}
