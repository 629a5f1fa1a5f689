using Microsoft.EntityFrameworkCore;
using OrthancWeb.Audit;
using OrthancWeb.Dicom;
using OrthancWeb.Security;

namespace OrthancWeb.Index;

/// <summary>One named entry and where it was defined: appsettings.json (read-only here) or the database (editable).</summary>
public sealed record KnownSetting<T>(string Name, T Options, bool FromConfiguration);

/// <summary>
/// Named remote endpoints an administrator defines in two places: appsettings.json, edited in the file, and at run
/// time (UI, PUT /{kind}/{name}), kept as global properties of the index so they survive a restart, follow the index
/// to PostgreSQL and need no schema of their own (Orthanc's "...InDatabase" options, always on here). A name of
/// appsettings.json can neither be overridden nor deleted from outside it. Every change is in the audit trail.
/// </summary>
/// <param name="prefix">The global properties' prefix, such as "OrthancPeer:".</param>
/// <param name="noun">What an entry is, in messages: "Orthanc peer".</param>
public abstract class NamedSettingsRegistry<T>(IDbContextFactory<IndexDbContext> contexts, IAuditTrail audit, string prefix, string noun) : IDisposable
    where T : class
{
    private readonly GlobalPropertyStore<T> _stored = new(contexts, prefix);

    /// <summary>The entries of appsettings.json, by name (case-insensitive).</summary>
    protected abstract IReadOnlyDictionary<string, T> Configured { get; }

    /// <summary>Why this entry could not work, or null: the rule set of start-up, applied to every change.</summary>
    protected abstract string? Problem(T entry);

    /// <summary>How an entry reads in the audit trail (never its password).</summary>
    protected abstract string Describe(T entry);

    /// <summary>The exception for a name nobody defined (a 404).</summary>
    protected abstract KeyNotFoundException Unknown(string name);

    public IReadOnlyList<KnownSetting<T>> All
    {
        get
        {
            var configured = Configured;
            return configured.Select(s => new KnownSetting<T>(s.Key, s.Value, true))
                .Concat(_stored.All.Where(s => !configured.ContainsKey(s.Key)).Select(s => new KnownSetting<T>(s.Key, s.Value, false)))
                .OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        }
    }

    public T? Find(string name) => Configured.GetValueOrDefault(name) ?? _stored.All.GetValueOrDefault(name);

    public T Get(string name) => Find(name) ?? throw Unknown(name);

    public bool IsConfigured(string name) => Configured.ContainsKey(name);

    /// <summary>Adds or replaces a stored entry; refuses names of appsettings.json and entries that could not work.</summary>
    public async Task SaveAsync(string name, T entry, CancellationToken ct)
    {
        Caller.Demand(Policies.Administer, $"change the {noun}s");
        if (string.IsNullOrWhiteSpace(name) || name.Length > 64 || name.Any(c => c is '/' or '\\' || char.IsControl(c)))
            throw new DicomValidationException($"An {noun} needs a name of 1 to 64 characters, without / or \\");
        if (IsConfigured(name)) throw new DicomValidationException($"{Capital} {name} is defined in appsettings.json: edit it there");
        if (Problem(entry) is { } problem) throw new DicomValidationException($"Invalid {noun} {name}: {problem}");
        await _stored.SaveAsync(name, entry, ct);
        Record(name, $"{Capital} {name} set to {Describe(entry)}");
    }

    /// <summary>Deletes a stored entry: false when there is none of that name.</summary>
    public async Task<bool> DeleteAsync(string name, CancellationToken ct)
    {
        Caller.Demand(Policies.Administer, $"change the {noun}s");
        if (IsConfigured(name)) throw new DicomValidationException($"{Capital} {name} is defined in appsettings.json: edit it there");
        if (!await _stored.DeleteAsync(name, ct)) return false;
        Record(name, $"{Capital} {name} deleted");
        return true;
    }

    private string Capital => char.ToUpperInvariant(noun[0]) + noun[1..];

    private void Record(string name, string details) =>
        audit.Record(new AuditEvent(AuditActions.ConfigurationChanged, AuditOutcome.Success) { ResourceLevel = prefix.TrimEnd(':'), ResourceId = name, Details = details });

    public void Dispose()
    {
        _stored.Dispose();
        GC.SuppressFinalize(this);
    }
}
