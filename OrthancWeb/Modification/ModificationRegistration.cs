using OrthancWeb.Jobs;

namespace OrthancWeb.Modification;

public static class ModificationRegistration
{
    /// <summary>Anonymization and modification of stored resources (one, or in bulk), merge and split of studies, at once or as jobs; new instances from tags (/tools/create-dicom).</summary>
    public static IServiceCollection AddModification(this IServiceCollection services)
    {
        services.AddSingleton<ModificationService>();
        services.AddSingleton<PseudonymKeys>();
        services.AddSingleton<IJobHandler, ResourceModificationJob>();
        services.AddSingleton<StudyReorganization>();
        services.AddSingleton<IJobHandler, MergeStudyJob>();
        services.AddSingleton<IJobHandler, SplitStudyJob>();
        services.AddSingleton<BulkModification>();
        services.AddSingleton<DicomCreation>();
        return services;
    }
}
