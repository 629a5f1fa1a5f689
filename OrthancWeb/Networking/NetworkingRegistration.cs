using OrthancWeb.Hosting;
using OrthancWeb.Jobs;

namespace OrthancWeb.Networking;

public static class NetworkingRegistration
{
    /// <summary>The DICOM listener (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET, storage commitment), the modalities and the SCU services.</summary>
    public static IServiceCollection AddDicomNetworking(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DicomOptions>().Bind(configuration.GetSection(ServerOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ModalityRegistry>();
        services.AddSingleton<DicomAcceptance>();
        services.AddSingleton<DicomPolicy>();
        services.AddSingleton<DicomTls>();
        services.AddSingleton<DicomAudit>();
        services.AddSingleton<EchoScp>();
        services.AddSingleton<StoreScp>();
        services.AddSingleton<FindScp>();
        services.AddSingleton<RetrieveScp>();
        services.AddSingleton<StorageCommitmentScp>();
        services.AddSingleton<StorageCommitmentReports>();
        services.AddSingleton<ModalityClient>();
        services.AddSingleton<IJobHandler, ModalityStoreJob>();
        services.AddSingleton<IJobHandler, ModalityMoveJob>();
        services.AddSingleton<IJobHandler, ModalityGetJob>();
        services.AddSingleton<QueryRetrieveService>();
        services.AddScoped<QueryRetrieveSession>();
        services.AddSingleton<DicomHost>();
        services.AddHostedService(sp => sp.GetRequiredService<DicomHost>());
        return services;
    }
}
