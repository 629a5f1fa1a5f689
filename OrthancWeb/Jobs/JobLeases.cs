using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Index;

namespace OrthancWeb.Jobs;

/// <summary>Where the jobs engine learns which of its jobs are its own when several servers share an index.</summary>
public interface IJobLeases
{
    /// <summary>Called once before the engine's workers start; keeps following its jobs until the server stops.</summary>
    Task StartAsync(JobEngine engine, CancellationToken stoppingToken);
}

/// <summary>
/// Jobs of servers sharing a PostgreSQL index: each job's latest state is also kept in the index (a global property
/// "Job:{id}" naming the server that owns it), and its server's identity lock is its lease (see
/// <see cref="ClusterMembership"/>): held as long as that server runs, dropped by PostgreSQL the moment it dies. The
/// leader looks every <see cref="AdoptionPeriod"/> for unfinished jobs whose owner holds no lock any more and takes
/// them over (one that was running is run again from its start, as after a restart). A server that comes back forgets
/// the jobs taken over meanwhile instead of running them a second time. On SQLite the index has one server: nothing
/// to do.
/// </summary>
public sealed partial class SharedJobLeases(ClusterMembership membership, IDbContextFactory<IndexDbContext> contexts, TimeProvider time,
    ILogger<SharedJobLeases> logger) : IJobLeases
{
    public const string Prefix = "Job:";

    public static readonly TimeSpan AdoptionPeriod = TimeSpan.FromSeconds(2);

    private readonly Channel<(string Id, string? Json)> _writes = Channel.CreateUnbounded<(string, string?)>(new UnboundedChannelOptions { SingleReader = true });

    private string Me => membership.Identity.Identifier;

    public async Task StartAsync(JobEngine engine, CancellationToken stoppingToken)
    {
        if (!membership.IsShared) return;
        var rows = await OwnersAsync(stoppingToken);
        foreach (var job in engine.List())
        {
            if (rows.TryGetValue(job.Id, out var owner) && owner != Me)
            {
                LogMoved(logger, job.Id, owner);
                engine.Release(job.Id);
            }
        }
        engine.Saved += (job, json) => _writes.Writer.TryWrite((job.Id, json));
        engine.Removed += id => _writes.Writer.TryWrite((id, null));
        // Jobs saved before (a first start on a shared index, or saves this server could not write when it stopped).
        foreach (var job in engine.List()) await WriteAsync(job.Id, Serialize(job), stoppingToken);
        _ = Task.Run(() => WriteLoopAsync(stoppingToken), CancellationToken.None);
        _ = Task.Run(() => AdoptLoopAsync(engine, stoppingToken), CancellationToken.None);
    }

    private static string Serialize(Job job) => JsonSerializer.Serialize(job, JobJson);

    private static readonly JsonSerializerOptions JobJson = new() { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    private async Task<Dictionary<string, string>> OwnersAsync(CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.GlobalProperties.AsNoTracking().Where(p => p.Name.StartsWith(Prefix)).ToListAsync(ct);
        return rows.ToDictionary(r => r.Name[Prefix.Length..], r => JsonNode.Parse(r.Value)?["Owner"]?.GetValue<string>() ?? "", StringComparer.Ordinal);
    }

    private async Task WriteLoopAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var (id, json) in _writes.Reader.ReadAllAsync(ct))
            {
                try { await WriteAsync(id, json, ct); }
                catch (Exception ex) when (ex is not OperationCanceledException) { LogWriteFailed(logger, id, ex.Message); }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task WriteAsync(string id, string? json, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var name = Prefix + id;
        if (json is null)
        {
            await db.GlobalProperties.Where(p => p.Name == name).ExecuteDeleteAsync(ct);
            return;
        }
        var value = new JsonObject { ["Owner"] = Me, ["Job"] = JsonNode.Parse(json) }.ToJsonString();
        var row = await db.GlobalProperties.FirstOrDefaultAsync(p => p.Name == name, ct);
        if (row is null) db.GlobalProperties.Add(new GlobalProperty { Name = name, Value = value });
        else row.Value = value;
        await db.SaveChangesAsync(ct);
    }

    private async Task AdoptLoopAsync(JobEngine engine, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(AdoptionPeriod, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                if (!membership.IsLeader) continue;
                try { await AdoptAsync(engine, ct); }
                catch (Exception ex) when (ex is not OperationCanceledException) { LogAdoptionFailed(logger, ex.Message); }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task AdoptAsync(JobEngine engine, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.GlobalProperties.AsNoTracking().Where(p => p.Name.StartsWith(Prefix)).ToListAsync(ct);
        var others = rows.Select(r => (Row: r, Node: JsonNode.Parse(r.Value)))
            .Select(x => (Owner: x.Node?["Owner"]?.GetValue<string>() ?? "", Job: x.Node?["Job"]))
            .Where(x => x.Owner != Me && x.Job is not null).ToList();
        if (others.Count == 0) return;
        var running = await membership.OthersRunningAsync(others.Select(o => o.Owner), ct);
        foreach (var (owner, node) in others)
        {
            if (running.Contains(owner) || JobEngine.Parse(node!.ToJsonString()) is not { IsFinished: false } job) continue;
            if (engine.Adopt(job)) LogAdopted(logger, job.Id, job.Type, owner);
        }
    }

    [LoggerMessage(LogLevel.Information, "Job {Id} was taken over by {Owner} while this server was down: forgotten here")]
    private static partial void LogMoved(ILogger logger, string id, string owner);

    [LoggerMessage(LogLevel.Warning, "Taking over job {Id} ({Type}) of {Owner}, which is no longer running")]
    private static partial void LogAdopted(ILogger logger, string id, string type, string owner);

    [LoggerMessage(LogLevel.Warning, "Could not record job {Id} in the shared index: {Reason}")]
    private static partial void LogWriteFailed(ILogger logger, string id, string reason);

    [LoggerMessage(LogLevel.Warning, "Could not look for jobs to take over: {Reason}")]
    private static partial void LogAdoptionFailed(ILogger logger, string reason);
}
