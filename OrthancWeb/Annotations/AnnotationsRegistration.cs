using Microsoft.Extensions.Options;

namespace OrthancWeb.Annotations;

public static class AnnotationsRegistration
{
    /// <summary>
    /// Metadata, attachments and labels of resources: their configuration (UserMetadata, UserContentType,
    /// CheckRevisions, refused at start-up when wrong) and the services the REST API and the explorer share.
    /// </summary>
    public static IServiceCollection AddAnnotations(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AnnotationOptions>()
            .Configure(o => o.Load(configuration))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<AnnotationOptions>, AnnotationOptionsValidator>();
        services.AddSingleton<AnnotationCatalog>();
        services.AddSingleton<MetadataService>();
        services.AddSingleton<AttachmentService>();
        services.AddSingleton<LabelService>();
        return services;
    }

    /// <summary>Names each problem, so that the start-up failure says what to fix.</summary>
    private sealed class AnnotationOptionsValidator : IValidateOptions<AnnotationOptions>
    {
        public ValidateOptionsResult Validate(string? name, AnnotationOptions options) =>
            options.Problems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
    }
}
