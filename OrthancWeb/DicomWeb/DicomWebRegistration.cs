using OrthancWeb.DicomWeb.Client;
using OrthancWeb.DicomWeb.Ohif;
using OrthancWeb.DicomWeb.Server;

namespace OrthancWeb.DicomWeb;

/// <summary>DICOMweb (PS3.18): the server under /dicom-web, the client of remote DICOMweb servers, and OHIF hosted beside it.</summary>
public static class DicomWebRegistration
{
    public static IServiceCollection AddDicomWeb(this IServiceCollection services, IConfiguration configuration) => services
        .AddDicomWebServer(configuration)
        .AddDicomWebClient(configuration)
        .AddOhifViewer(configuration);

    public static WebApplication MapDicomWeb(this WebApplication app)
    {
        app.MapDicomWebServer();
        app.MapOhifViewer();
        return app;
    }
}
