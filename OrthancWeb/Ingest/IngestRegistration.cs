namespace OrthancWeb.Ingest;

public static class IngestRegistration
{
    /// <summary>The one path every instance takes (REST, C-STORE, browser upload).</summary>
    public static IServiceCollection AddIngest(this IServiceCollection services)
    {
        services.AddSingleton<IngestService>();
        services.AddSingleton<UploadService>();
        return services;
    }
}
