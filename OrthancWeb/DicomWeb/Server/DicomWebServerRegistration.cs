namespace OrthancWeb.DicomWeb.Server;

/// <summary>QIDO-RS, WADO-RS, STOW-RS and WADO-URI on the index, ingest path, authentication and audit trail.</summary>
public static class DicomWebServerRegistration
{
    public static IServiceCollection AddDicomWebServer(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<QidoService>();
        services.AddSingleton<WadoService>();
        services.AddSingleton<StowService>();
        return services;
    }

    /// <summary>The routes are controllers (<see cref="DicomWebController"/>, <see cref="WadoUriController"/>), mapped with the REST API's.</summary>
    public static WebApplication MapDicomWebServer(this WebApplication app) => app;
}
