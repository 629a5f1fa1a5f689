namespace OrthancWeb.Ingest;

public static class IngestRegistration
{
    /// <summary>The one path every instance takes (REST, C-STORE, browser upload).</summary>
    public static IServiceCollection AddIngest(this IServiceCollection services)
    {
        // Bound from the root section when the host has a configuration (the server); defaults otherwise.
        services.AddOptions<UploadOptions>()
            .Configure<IServiceProvider>((o, sp) => sp.GetService<IConfiguration>()?.GetSection(Hosting.ServerOptions.Section).Bind(o))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ArrivalMonitor>();
        services.AddSingleton<IngestTranscoder>();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<Storage.StorageOptions>, IngestTranscodingValidation>();
        services.AddSingleton<IngestService>();
        services.AddSingleton<UploadService>();
        return services;
    }
}
