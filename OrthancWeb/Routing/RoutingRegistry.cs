using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Routing;

/// <summary>A rule and where it was defined: appsettings.json (read-only here) or the database (edited in the UI).</summary>
public sealed record KnownRule(RoutingRule Rule, bool FromConfiguration);

/// <summary>The routing rules of appsettings.json and those added in the UI, which the database keeps.</summary>
public sealed class RoutingRegistry(IOptionsMonitor<RoutingOptions> options, IDbContextFactory<IndexDbContext> contexts, IAuditTrail? audit = null) : IDisposable
{
    private readonly GlobalPropertyStore<RoutingRule> _stored = new(contexts, "RoutingRule:");

    public IReadOnlyList<KnownRule> All
    {
        get
        {
            var configured = options.CurrentValue.Routing;
            var names = configured.Select(r => r.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            return configured.Select(r => new KnownRule(r, true))
                .Concat(_stored.All.Values.Where(r => !names.Contains(r.Name)).Select(r => new KnownRule(r, false)))
                .ToList();
        }
    }

    public bool IsConfigured(string name) => options.CurrentValue.Routing.Any(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase));

    public async Task SaveAsync(RoutingRule rule, CancellationToken ct)
    {
        Caller.Demand(Policies.Administer, "change routing rules");
        if (rule.Problem() is { } problem) throw new ArgumentException(problem);
        if (IsConfigured(rule.Name)) throw new InvalidOperationException($"Rule {rule.Name} is defined in appsettings.json: edit it there");
        await _stored.SaveAsync(rule.Name, rule, ct);
        Record(rule.Name, "routing rule saved: " + System.Text.Json.JsonSerializer.Serialize(rule));
    }

    public async Task<bool> DeleteAsync(string name, CancellationToken ct)
    {
        Caller.Demand(Policies.Administer, "change routing rules");
        if (IsConfigured(name)) throw new InvalidOperationException($"Rule {name} is defined in appsettings.json: edit it there");
        var deleted = await _stored.DeleteAsync(name, ct);
        if (deleted) Record(name, "routing rule deleted");
        return deleted;
    }

    private void Record(string name, string details) =>
        audit?.Record(new AuditEvent(AuditActions.ConfigurationChanged, AuditOutcome.Success) { ResourceLevel = "RoutingRule", ResourceId = name, Details = details });

    public void Dispose() => _stored.Dispose();
}
