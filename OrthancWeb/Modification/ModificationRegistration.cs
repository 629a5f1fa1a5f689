using OrthancWeb.Jobs;

namespace OrthancWeb.Modification;

public static class ModificationRegistration
{
    /// <summary>Anonymization and modification of stored resources, at once or as jobs; new instances from tags (/tools/create-dicom).</summary>
    public static IServiceCollection AddModification(this IServiceCollection services)
    {
        services.AddSingleton<ModificationService>();
        services.AddSingleton<PseudonymKeys>();
        services.AddSingleton<IJobHandler, ResourceModificationJob>();
        services.AddSingleton<DicomCreation>();
        return services;
    }
}
