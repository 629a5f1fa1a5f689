namespace OrthancWeb.Audit;

public static class AuditRegistration
{
    /// <summary>The audit trail. (Skeleton: events go to the log until the trail's store lands.)</summary>
    public static IServiceCollection AddAudit(this IServiceCollection services)
    {
        services.AddSingleton<IAuditTrail, LogAuditTrail>();
        return services;
    }
}

/// <summary>Placeholder trail: each event as a log line, with the ambient actor filled in.</summary>
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
