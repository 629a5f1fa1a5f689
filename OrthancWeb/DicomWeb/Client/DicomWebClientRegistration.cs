namespace OrthancWeb.DicomWeb.Client;

/// <summary>Remote DICOMweb servers: configured like modalities, queried, retrieved from and sent to as jobs.</summary>
public static class DicomWebClientRegistration
{
    public static IServiceCollection AddDicomWebClient(this IServiceCollection services, IConfiguration configuration) => services;
}
