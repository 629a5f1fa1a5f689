namespace OrthancWeb.Imaging;

public static class ImagingRegistration
{
    /// <summary>Rendering of stored images (previews, rendered frames, raw pixel values).</summary>
    public static IServiceCollection AddImaging(this IServiceCollection services) => services.AddSingleton<RenderingService>();
}
