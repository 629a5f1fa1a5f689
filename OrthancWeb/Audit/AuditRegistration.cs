using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrthancWeb.Hosting;

namespace OrthancWeb.Audit;

public static class AuditRegistration
{
    /// <summary>
    /// The audit trail: its own SQLite database (&lt;data&gt;/db/audit.db), the queue callers record into, the one
    /// writer (a hosted service, registered first so that it starts first and stops last), the queries of the browse
    /// page, and the syslog forwarder. Needs <see cref="DataPaths"/> and a <see cref="TimeProvider"/>.
    /// </summary>
    public static IServiceCollection AddAudit(this IServiceCollection services)
    {
        services.AddOptions<AuditOptions>()
            .Configure<IServiceProvider>((o, sp) => sp.GetService<IConfiguration>()?.GetSection(AuditOptions.Section).Bind(o))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddDbContextFactory<AuditDbContext>((sp, o) =>
            o.UseSqlite($"Data Source={DatabaseFile(sp.GetRequiredService<DataPaths>())};Default Timeout=60"));
        services.AddSingleton<AuditTrail>();
        services.AddSingleton<IAuditTrail>(sp => sp.GetRequiredService<AuditTrail>());
        services.AddSingleton<SyslogForwarder>();
        services.AddSingleton<AuditWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditWriter>());
        services.AddSingleton<AuditQueries>();
        // The UI's circuits name their browser's address from the connection that opens them.
        services.AddHttpContextAccessor();
        return services;
    }

    public static string DatabaseFile(DataPaths paths) => Path.Combine(paths.Database, "audit.db");
}

/// <summary>A trail that only logs each event (tests and tools that need no store).</summary>
public sealed partial class LogAuditTrail(ILogger<LogAuditTrail> log) : IAuditTrail
{
    public void Record(AuditEvent auditEvent)
    {
        var actor = AuditActor.Current;
        LogEvent(log, auditEvent.Action, auditEvent.Outcome, auditEvent.User ?? actor?.User, auditEvent.Address ?? actor?.Address,
            auditEvent.Source ?? actor?.Source ?? AuditSources.Server, auditEvent.PatientId, auditEvent.ResourceId, auditEvent.Details);
    }

    [LoggerMessage(LogLevel.Debug, "Audit {Action} {Outcome} user={User} address={Address} source={Source} patient={PatientId} resource={ResourceId} {Details}")]
    private static partial void LogEvent(ILogger logger, string action, AuditOutcome outcome, string? user, string? address, string source,
        string? patientId, string? resourceId, string? details);
}
