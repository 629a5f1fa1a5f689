using System.IO.Compression;
using Microsoft.AspNetCore.ResponseCompression;

namespace OrthancWeb.DicomWeb.Server;

/// <summary>QIDO-RS, WADO-RS, STOW-RS and WADO-URI on the index, ingest path, authentication and audit trail.</summary>
public static class DicomWebServerRegistration
{
    public static IServiceCollection AddDicomWebServer(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<QidoService>();
        services.AddSingleton<WadoService>();
        services.AddSingleton<StowService>();
        // DICOM JSON compresses 15 to 30 times (a 500-instance series' metadata: 945 KB), at the fastest level a few
        // milliseconds of CPU. Only JSON: pixel data in multipart bodies is noise to a compressor. Over HTTPS too: these
        // bodies echo no secret beside attacker-chosen text, which is what BREACH needs.
        services.AddResponseCompression(o =>
        {
            o.EnableForHttps = true;
            o.MimeTypes = [DicomWebMedia.DicomJson, "application/json"];
            o.Providers.Add<BrotliCompressionProvider>();
            o.Providers.Add<GzipCompressionProvider>();
        });
        services.Configure<BrotliCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        services.Configure<GzipCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        return services;
    }

    /// <summary>
    /// The routes are controllers (<see cref="DicomWebController"/>, <see cref="WadoUriController"/>), mapped with the
    /// REST API's; here only their responses' compression, for /dicom-web alone.
    /// </summary>
    public static WebApplication MapDicomWebServer(this WebApplication app)
    {
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/dicom-web", StringComparison.OrdinalIgnoreCase), b => b.UseResponseCompression());
        return app;
    }
}
