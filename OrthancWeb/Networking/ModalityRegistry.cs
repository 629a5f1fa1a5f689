using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrthancWeb.Dicom;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Networking;

/// <summary>A known modality and where it was defined: appsettings.json (read-only here) or the database (editable).</summary>
public sealed record KnownModality(string Name, ModalityOptions Options, bool FromConfiguration);

/// <summary>
/// Every modality the server knows: those of appsettings.json, which an administrator edits in the file, and those
/// added at run time (UI, PUT /modalities/{name}), kept in the index database as global properties so they survive a
/// restart and need no schema of their own. A name in appsettings.json cannot be overridden or deleted from outside it.
/// </summary>
public sealed class ModalityRegistry(IOptionsMonitor<DicomOptions> options, IDbContextFactory<IndexDbContext> contexts) : IDisposable
{
    private readonly GlobalPropertyStore<ModalityOptions> _stored = new(contexts, "DicomModality:");

    public IReadOnlyList<KnownModality> All
    {
        get
        {
            var configured = options.CurrentValue.DicomModalities;
            return configured.Select(m => new KnownModality(m.Key, m.Value, true))
                .Concat(_stored.All.Where(s => !configured.ContainsKey(s.Key)).Select(s => new KnownModality(s.Key, s.Value, false)))
                .OrderBy(m => m.Name, StringComparer.OrdinalIgnoreCase).ToList();
        }
    }

    public ModalityOptions? Find(string name) =>
        options.CurrentValue.DicomModalities.GetValueOrDefault(name) ?? _stored.All.GetValueOrDefault(name);

    /// <summary>
    /// The first modality with this AE title that <paramref name="accept"/> takes (all when null), compared
    /// case-insensitively unless <paramref name="strict"/> (StrictAetComparison). Asked for every association and every
    /// C-STORE: a plain scan, no list built or sorted.
    /// </summary>
    public ModalityOptions? FindByAet(string aet, bool strict = false, Func<ModalityOptions, bool>? accept = null)
    {
        aet = aet.Trim();
        var comparison = strict ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        foreach (var m in options.CurrentValue.DicomModalities.Values)
            if (string.Equals(m.AET.Trim(), aet, comparison) && (accept is null || accept(m))) return m;
        foreach (var (name, m) in _stored.All)
            if (!IsConfigured(name) && string.Equals(m.AET.Trim(), aet, comparison) && (accept is null || accept(m))) return m;
        return null;
    }

    public bool IsConfigured(string name) => options.CurrentValue.DicomModalities.ContainsKey(name);

    /// <summary>Adds or replaces a stored modality; refuses names defined in appsettings.json and invalid entries.</summary>
    public Task SaveAsync(string name, ModalityOptions m, CancellationToken ct)
    {
        Caller.Demand(Policies.Administer, "change modalities");
        if (string.IsNullOrWhiteSpace(name) || name.Length > 64) throw new DicomValidationException("A modality needs a name of 1 to 64 characters");
        if (IsConfigured(name)) throw new DicomValidationException($"Modality {name} is defined in appsettings.json: edit it there");
        // The rules appsettings.json's entries are held to at start-up (ModalityOptions.Check).
        if (m.Check().ToList() is { Count: > 0 } errors)
            throw new DicomValidationException("Invalid modality: " + string.Join("; ", errors));
        return _stored.SaveAsync(name, m, ct);
    }

    public Task<bool> DeleteAsync(string name, CancellationToken ct)
    {
        Caller.Demand(Policies.Administer, "change modalities");
        return IsConfigured(name) ? throw new DicomValidationException($"Modality {name} is defined in appsettings.json: edit it there") : _stored.DeleteAsync(name, ct);
    }

    public void Dispose() => _stored.Dispose();
}

/// <summary>No modality of that name is known (Orthanc's "Accessing an inexistent item", HTTP 404).</summary>
public sealed class UnknownModalityException(string name) : KeyNotFoundException($"Unknown modality: {name}");
