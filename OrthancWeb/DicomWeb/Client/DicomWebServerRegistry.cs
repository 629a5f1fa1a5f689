using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Dicom;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.DicomWeb.Client;

/// <summary>A known DICOMweb server and where it was defined: appsettings.json (read-only here) or the database.</summary>
public sealed record KnownDicomWebServer(string Name, DicomWebServerOptions Options, bool FromConfiguration);

/// <summary>
/// Every remote DICOMweb server the server knows, as <c>Networking.ModalityRegistry</c> keeps modalities: those of
/// appsettings.json, and those added at run time (UI, PUT /dicom-web/servers/{name}) kept as global properties of the
/// index, so they survive a restart and need no schema of their own. A configured name cannot be changed from outside.
/// </summary>
public sealed class DicomWebServerRegistry(IOptionsMonitor<DicomWebClientOptions> options, IDbContextFactory<IndexDbContext> contexts, IAuditTrail audit) : IDisposable
{
    private readonly GlobalPropertyStore<DicomWebServerOptions> _stored = new(contexts, "DicomWebServer:");

    public IReadOnlyList<KnownDicomWebServer> All
    {
        get
        {
            var configured = options.CurrentValue.DicomWebServers;
            return configured.Select(s => new KnownDicomWebServer(s.Key, s.Value, true))
                .Concat(_stored.All.Where(s => !configured.ContainsKey(s.Key)).Select(s => new KnownDicomWebServer(s.Key, s.Value, false)))
                .OrderBy(s => s.Name, StringComparer.OrdinalIgnoreCase).ToList();
        }
    }

    public DicomWebServerOptions? Find(string name) =>
        options.CurrentValue.DicomWebServers.GetValueOrDefault(name) ?? _stored.All.GetValueOrDefault(name);

    public DicomWebServerOptions Get(string name) => Find(name) ?? throw new UnknownDicomWebServerException(name);

    public bool IsConfigured(string name) => options.CurrentValue.DicomWebServers.ContainsKey(name);

    /// <summary>Adds or replaces a stored server; refuses names of appsettings.json and entries that could not work.</summary>
    public async Task SaveAsync(string name, DicomWebServerOptions server, CancellationToken ct)
    {
        Caller.Demand(Policies.Administer, "change DICOMweb servers");
        if (string.IsNullOrWhiteSpace(name) || name.Length > 64 || name.Any(c => c is '/' or '\\' || char.IsControl(c)))
            throw new DicomValidationException("A DICOMweb server needs a name of 1 to 64 characters, without / or \\");
        if (IsConfigured(name)) throw new DicomValidationException($"DICOMweb server {name} is defined in appsettings.json: edit it there");
        if (server.Problem() is { } problem) throw new DicomValidationException($"Invalid DICOMweb server {name}: {problem}");
        await _stored.SaveAsync(name, server, ct);
        Record(name, $"DICOMweb server {name} set to {server.Url}" + (server.Username.Length > 0 ? $" as {server.Username}" : ""));
    }

    public async Task DeleteAsync(string name, CancellationToken ct)
    {
        Caller.Demand(Policies.Administer, "change DICOMweb servers");
        if (IsConfigured(name)) throw new DicomValidationException($"DICOMweb server {name} is defined in appsettings.json: edit it there");
        if (!await _stored.DeleteAsync(name, ct)) throw new UnknownDicomWebServerException(name);
        Record(name, $"DICOMweb server {name} deleted");
    }

    private void Record(string name, string details) =>
        audit.Record(new AuditEvent(AuditActions.ConfigurationChanged, AuditOutcome.Success) { ResourceLevel = "DicomWebServer", ResourceId = name, Details = details });

    public void Dispose() => _stored.Dispose();
}

/// <summary>No DICOMweb server of that name is known (HTTP 404).</summary>
public sealed class UnknownDicomWebServerException(string name) : KeyNotFoundException($"Unknown DICOMweb server: {name}");
