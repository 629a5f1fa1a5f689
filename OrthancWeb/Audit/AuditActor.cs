namespace OrthancWeb.Audit;

/// <summary>
/// Who the current code runs for, as the audit trail names them: set with the caller for each HTTP request and each
/// Blazor circuit event, and for each DICOM association (calling AE and address). Kept here, below Security and
/// Networking, so that both can set it and the trail never has to ask them.
/// </summary>
public sealed record AuditActor(string? User, string? Address, string Source)
{
    private static readonly AsyncLocal<AuditActor?> s_current = new();

    public static AuditActor? Current => s_current.Value;

    /// <summary>Runs what follows (in this async flow) as <paramref name="actor"/>; disposing restores the previous one.</summary>
    public static Scope Enter(AuditActor actor)
    {
        var previous = s_current.Value;
        s_current.Value = actor;
        return new Scope(previous);
    }

    public readonly struct Scope(AuditActor? previous) : IDisposable
    {
        public void Dispose() => s_current.Value = previous;
    }
}
