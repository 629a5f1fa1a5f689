using OrthancWeb.Hosting;

namespace OrthancWeb.Storage;

public static class StorageRegistration
{
    /// <summary>The storage area: files by UUID under the data folder, compression, durable writes.</summary>
    public static IServiceCollection AddStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(ServerOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<StorageArea>();
        return services;
    }
}
