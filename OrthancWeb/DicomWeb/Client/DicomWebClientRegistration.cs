using OrthancWeb.Hosting;
using OrthancWeb.Jobs;

namespace OrthancWeb.DicomWeb.Client;

/// <summary>Remote DICOMweb servers: configured like modalities, queried, retrieved from and sent to as jobs.</summary>
public static class DicomWebClientRegistration
{
    public static IServiceCollection AddDicomWebClient(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DicomWebClientOptions>().Bind(configuration.GetSection(ServerOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<DicomWebServerRegistry>();
        services.AddSingleton<DicomWebClient>();
        services.AddSingleton<IJobHandler, DicomWebStowJob>();
        services.AddSingleton<IJobHandler, DicomWebRetrieveJob>();
        // A named client rather than a typed one: DicomWebClient is a singleton (jobs and routing hold it), and asking
        // the factory per request keeps its handler rotation. Credentials go on each request, per server.
        services.AddHttpClient(DicomWebClient.HttpClientName, c => c.Timeout = System.Threading.Timeout.InfiniteTimeSpan) // bounded by DicomWebClient per server
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                // A redirect would carry the server's credentials to wherever the remote points.
                AllowAutoRedirect = false,
                ConnectTimeout = TimeSpan.FromSeconds(30),
                MaxResponseHeadersLength = 64, // KB
                AutomaticDecompression = System.Net.DecompressionMethods.None,
            });
        return services;
    }
}
