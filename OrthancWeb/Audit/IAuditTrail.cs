namespace OrthancWeb.Audit;

/// <summary>
/// The one place every access to patient data, every login and every association is recorded. Recording never
/// blocks the caller on the disk and never throws: an event that cannot be written is reported in the log, and the
/// work it describes goes on.
/// </summary>
public interface IAuditTrail
{
    void Record(AuditEvent auditEvent);
}
