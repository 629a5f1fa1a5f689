using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;
using OrthancWeb.Hosting;
using OrthancWeb.Jobs;

namespace OrthancWeb.OrthancPeers;

/// <summary>Orthanc peers: configured like modalities, reached over HTTP(S) with Orthanc's REST API, sent to as jobs.</summary>
public static class PeersRegistration
{
    public static IServiceCollection AddOrthancPeers(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PeersOptions>().Bind(configuration.GetSection(ServerOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IPostConfigureOptions<PeersOptions>>(new PeersShorthandConfiguration(configuration));
        services.AddSingleton<IValidateOptions<PeersOptions>, PeersOptionsValidation>();
        services.AddSingleton<PeerRegistry>();
        services.AddSingleton<PeerCertificates>();
        services.AddSingleton<PeerHttpClients>();
        services.AddSingleton<OrthancPeerClient>();
        services.AddSingleton<IJobHandler, PeerStoreJob>();
        services.AddHttpClient(PeerHttpClients.Name);
        services.AddSingleton<IConfigureOptions<HttpClientFactoryOptions>, PeerHttpClientSetup>();
        return services;
    }
}
