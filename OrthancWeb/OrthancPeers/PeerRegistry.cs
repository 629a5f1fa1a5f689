using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Index;

namespace OrthancWeb.OrthancPeers;

/// <summary>
/// Every Orthanc peer the server knows: OrthancPeers of appsettings.json, and those added at run time with
/// PUT /peers/{name}, kept in the index database (Orthanc's OrthancPeersInDatabase, always on here).
/// </summary>
public sealed class PeerRegistry(IOptionsMonitor<PeersOptions> options, IDbContextFactory<IndexDbContext> contexts, IAuditTrail audit)
    : NamedSettingsRegistry<OrthancPeerOptions>(contexts, audit, "OrthancPeer:", "Orthanc peer")
{
    protected override IReadOnlyDictionary<string, OrthancPeerOptions> Configured => options.CurrentValue.OrthancPeers;

    protected override string? Problem(OrthancPeerOptions entry) => entry.Problem();

    protected override string Describe(OrthancPeerOptions entry) => entry.BaseUri + (entry.Username.Length > 0 ? $" as {entry.Username}" : "");

    protected override KeyNotFoundException Unknown(string name) => new UnknownPeerException(name);
}

/// <summary>No peer of that name is known (Orthanc's "No peer with symbolic name", HTTP 404).</summary>
public sealed class UnknownPeerException(string name) : KeyNotFoundException($"No peer with symbolic name: {name}");
