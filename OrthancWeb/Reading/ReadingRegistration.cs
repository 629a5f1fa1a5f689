namespace OrthancWeb.Reading;

public static class ReadingRegistration
{
    /// <summary>The reading viewer: series laid out for viewports, and each user's measurements.</summary>
    public static IServiceCollection AddReading(this IServiceCollection services) => services.AddSingleton<ReadingService>();
}
