using Microsoft.AspNetCore.Components.Server.Circuits;
using MudBlazor.Services;

namespace OrthancWeb.Components;

public static class UiRegistration
{
    /// <summary>The Blazor Server explorer (MudBlazor), with the login state cascaded to every page and every circuit event run on behalf of its user.</summary>
    public static IServiceCollection AddExplorerUi(this IServiceCollection services)
    {
        services.AddCascadingAuthenticationState();
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices();
        services.AddScoped<CircuitHandler, CallerCircuitHandler>();
        return services;
    }

    public static WebApplication MapExplorerUi(this WebApplication app)
    {
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
