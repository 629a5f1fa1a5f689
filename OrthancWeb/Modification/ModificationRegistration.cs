using OrthancWeb.Jobs;

namespace OrthancWeb.Modification;

public static class ModificationRegistration
{
    /// <summary>Anonymization and modification of stored resources, at once or as jobs.</summary>
    public static IServiceCollection AddModification(this IServiceCollection services)
    {
        services.AddSingleton<ModificationService>();
        services.AddSingleton<PseudonymKeys>();
        services.AddSingleton<IJobHandler, ResourceModificationJob>();
        return services;
    }
}
