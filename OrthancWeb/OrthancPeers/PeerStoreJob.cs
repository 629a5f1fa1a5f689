using System.Globalization;
using System.Text.Json.Nodes;
using OrthancWeb.Jobs;
using OrthancWeb.Requests;

namespace OrthancWeb.OrthancPeers;

/// <summary>
/// POST /peers/{name}/store as a job (Orthanc's "OrthancPeerStore"), with the progress of the instances sent; a
/// cancellation stops it between two requests or in the middle of one. Its JSON is Orthanc 1.10's: Peer, Compress,
/// ParentResources, InstancesCount, FailedInstancesCount, Size and SizeMB (and Transcode when asked).
/// </summary>
public sealed class PeerStoreJob(OrthancPeerClient client, PeerRegistry registry) : IJobHandler
{
    public const string JobType = "OrthancPeerStore";

    public string Type => JobType;

    public static JsonObject Content(string peerName, OrthancPeerOptions peer, IReadOnlyList<string> resources, PeerSendOptions how)
    {
        var content = Job.ContentOf(new PeerStoreParameters
        {
            PeerName = peerName, ParentResources = resources, Compress = how.Compress, Transcode = how.Transcode, Permissive = how.Permissive,
        });
        content["Peer"] = peer.ForJob();
        return content;
    }

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var p = job.ContentAs<PeerStoreParameters>();
        registry.Get(p.PeerName); // deleted since the job was submitted: a 404's reason in the job's error
        var instances = await client.InstancesAsync(p.ParentResources, ct);
        var result = await client.StoreAsync(p.PeerName, instances, new PeerSendOptions(p.Compress, p.Transcode, p.Permissive), progress, ct);
        return Result(result);
    }

    /// <summary>The counts of a send, as Orthanc's job shows them ("Size" in bytes as a string, "SizeMB" rounded down).</summary>
    public static JsonObject Result(PeerSendResult result) => new()
    {
        ["InstancesCount"] = result.InstancesCount,
        ["FailedInstancesCount"] = result.FailedInstances.Count,
        ["FailedInstances"] = new JsonArray(result.FailedInstances.Select(i => (JsonNode)i).ToArray()),
        ["Size"] = result.Size.ToString(CultureInfo.InvariantCulture),
        ["SizeMB"] = result.Size / (1024 * 1024),
    };
}

/// <summary>What an OrthancPeerStore job sends, and where (its Content, with Orthanc's names, and the peer's name of ours).</summary>
public sealed record PeerStoreParameters
{
    public string Description { get; init; } = "REST API";
    public required string PeerName { get; init; }
    public required IReadOnlyList<string> ParentResources { get; init; }
    public bool Compress { get; init; }
    public string? Transcode { get; init; }
    public bool Permissive { get; init; }
}

/// <summary>
/// POST /peers/{name}/store: a public ID, a JSON array of them, or {"Resources": [...], "Asynchronous", "Synchronous",
/// "Compress", "Transcode", "Permissive", "Priority"} (Orthanc 1.10's fields; within the request unless asked as a job).
/// </summary>
public sealed record PeerStoreRequest : IShorthandBody<PeerStoreRequest>
{
    public IReadOnlyList<string> Resources { get; init; } = [];
    public bool Asynchronous { get; init; }
    public bool Synchronous { get; init; } = true;
    public bool Compress { get; init; }
    public string? Transcode { get; init; }
    public bool Permissive { get; init; }
    public int Priority { get; init; }

    public bool AsJob => Asynchronous || !Synchronous;

    /// <summary>A bare string is one ID only when shaped as one (Orthanc reads anything else as JSON, and refuses it).</summary>
    public static JsonObject? Expand(JsonNode shorthand) => shorthand switch
    {
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String && !PublicIds.IsWellFormed(v.GetValue<string>().Trim()) => null,
        _ => RequestBody.Strings(shorthand) is { } ids ? new JsonObject { [nameof(Resources)] = ids } : null,
    };
}

/// <summary>Orthanc's public IDs: five groups of eight hexadecimal digits (the SHA-1 of the DICOM identifiers).</summary>
public static class PublicIds
{
    public static bool IsWellFormed(string id) =>
        id.Length == 44 && Enumerable.Range(0, 44).All(i => i % 9 == 8 ? id[i] == '-' : char.IsAsciiHexDigit(id[i]));
}
