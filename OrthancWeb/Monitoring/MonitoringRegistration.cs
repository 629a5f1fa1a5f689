using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrthancWeb.Hosting;

namespace OrthancWeb.Monitoring;

public static class MonitoringRegistration
{
    private const string Ready = "ready";

    /// <summary>Metrics (Prometheus text, Orthanc's names first) and health checks for the hospital's monitoring.</summary>
    public static IServiceCollection AddMonitoring(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MonitoringOptions>().Bind(configuration.GetSection(ServerOptions.Section));
        services.AddSingleton<MetricsCollector>();
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<ThirdPartyVersions>();
        services.AddHealthChecks()
            .AddCheck<IndexHealthCheck>("index", tags: [Ready])
            .AddCheck<StorageHealthCheck>("storage", tags: [Ready]);
        return services;
    }

    /// <summary>
    /// /health/live (the process answers) and /health/ready (index, storage, free space), without a login: load
    /// balancers and monitoring probes have none, and the answers say nothing about patients.
    /// </summary>
    public static WebApplication MapMonitoring(this WebApplication app)
    {
        // The collector listens from the start, so the first scrape already has what happened before it.
        app.Services.GetRequiredService<MetricsCollector>();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(Ready), ResponseWriter = WriteAsync }).AllowAnonymous();
        return app;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var checks = new JsonObject();
        foreach (var (name, entry) in report.Entries)
            checks[name] = new JsonObject { ["Status"] = entry.Status.ToString(), ["Description"] = entry.Description };
        var body = new JsonObject { ["Status"] = report.Status.ToString(), ["Checks"] = checks };
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
