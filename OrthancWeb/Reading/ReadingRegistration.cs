namespace OrthancWeb.Reading;

public static class ReadingRegistration
{
    /// <summary>The reading viewer: series laid out for viewports, each user's measurements, and the RT objects drawn over a series.</summary>
    public static IServiceCollection AddReading(this IServiceCollection services) => services.AddSingleton<ReadingService>().AddSingleton<RtService>();
}
