using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;
using OrthancWeb.Jobs;

namespace OrthancWeb.Routing;

/// <summary>
/// Follows the index's change log (NewInstance, StableSeries, StableStudy) and submits a "Route" job for each rule a
/// change matches. Its place in the log is kept in the database, so after a restart it carries on where it stopped:
/// nothing that arrived is left unrouted (a change seen just before a crash may be routed twice, never zero times).
/// Copies made by anonymization or modification are not routed again, which keeps a rule from feeding itself.
/// </summary>
public sealed partial class RoutingService(
    IndexQueries queries, InstanceFiles files, RoutingRegistry rules, JobEngine jobs,
    IDbContextFactory<IndexDbContext> contexts, ClusterMembership membership, TimeProvider time, ILogger<RoutingService> logger) : BackgroundService, IChangeLogFollower
{
    /// <summary>Its place while rules exist (the saved one until the loop has read it): DELETE /changes keeps what follows.</summary>
    public long? Position => rules.All.Count == 0 ? null
        : Interlocked.Read(ref _position) is var p and >= 0 ? p
        : _cursor.All.TryGetValue(CursorKey, out var saved) ? saved : null;

    private long _position = -1;

    /// <summary>How long it rests once it has caught up with the change log.</summary>
    private static readonly TimeSpan Rest = TimeSpan.FromMilliseconds(500);

    private readonly GlobalPropertyStore<long> _cursor = new(contexts, "Routing:");
    private const string CursorKey = "LastChange";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long? cursor = null;
        var forgotten = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            var done = true;
            try
            {
                if (!membership.IsLeader)
                {
                    // Servers sharing an index: the leader routes, once for the archive; this one carries on from
                    // the place the last leader saved when it leads in turn.
                    (cursor, forgotten) = (null, false);
                    Interlocked.Exchange(ref _position, -1);
                    await membership.WhenLeaderAsync(stoppingToken);
                    _cursor.Forget();
                }
                if (rules.All.Count == 0)
                {
                    // No rule, nothing to follow: forget the place (once), so that a rule added later starts from
                    // its own arrival rather than replaying the past. Ingest pays nothing meanwhile.
                    if (!forgotten) await _cursor.DeleteAsync(CursorKey, stoppingToken);
                    (cursor, forgotten) = (null, true);
                    Interlocked.Exchange(ref _position, -1);
                }
                else
                {
                    forgotten = false;
                    cursor ??= await _cursor.SavedOrEndAsync(CursorKey, queries, stoppingToken);
                    Interlocked.Exchange(ref _position, cursor.Value);
                    var (changes, last, complete) = await queries.ChangesAsync(cursor.Value, 200, stoppingToken);
                    foreach (var change in changes)
                    {
                        try { await HandleAsync(change, stoppingToken); }
                        catch (Exception ex) when (ex is not OperationCanceledException)
                        {
                            // One resource that cannot be examined (deleted meanwhile, unreadable file) must not stop routing.
                            LogSkipped(logger, change.ChangeType, change.PublicId, ex.Message);
                        }
                    }
                    if (last != cursor) { cursor = last; await _cursor.SaveAsync(CursorKey, last, stoppingToken); }
                    Interlocked.Exchange(ref _position, cursor.Value);
                    done = complete;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception ex)
            {
                LogPaused(logger, ex.Message);
            }
            if (done)
            {
                try { await Task.Delay(Rest, time, stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Routing skipped {Change} of {Id}: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string change, string id, string reason);

    [LoggerMessage(LogLevel.Warning, "Routing paused after an error, retrying shortly: {Reason}")]
    private static partial void LogPaused(ILogger logger, string reason);

    public override void Dispose()
    {
        _cursor.Dispose();
        base.Dispose();
    }

    private static RoutingTrigger? TriggerOf(string changeType) => changeType switch
    {
        "NewInstance" => RoutingTrigger.Instance,
        "StableSeries" => RoutingTrigger.StableSeries,
        "StableStudy" => RoutingTrigger.StableStudy,
        _ => null,
    };

    private async Task HandleAsync(ChangeInfo change, CancellationToken ct)
    {
        if (TriggerOf(change.ChangeType) is not { } trigger) return;
        var matching = rules.All.Select(r => r.Rule).Where(r => r.Trigger == trigger).ToList();
        if (matching.Count == 0) return;
        var facts = await FactsAsync(change.Level, change.PublicId, ct);
        if (facts is null || facts.Derived) return;
        foreach (var rule in matching)
        {
            if (!await MatchesAsync(rule, facts, ct)) continue;
            LogRouted(logger, rule.Name, change.Level, change.PublicId);
            jobs.Submit(RouteJob.JobType, RouteJob.Content(rule, change.Level, change.PublicId),
                maxRetries: rule.Retries, retryDelaySeconds: rule.RetryDelay);
        }
    }

    [LoggerMessage(LogLevel.Information, "Rule {Rule} routes {Level} {Id}")]
    private static partial void LogRouted(ILogger logger, string rule, ResourceLevel level, string id);

    /// <summary>What the conditions look at: merged main tags, the series' modalities, the first instance and its metadata.</summary>
    private sealed record Facts(Dictionary<DicomTag, string> Tags, HashSet<string> Modalities, ResourceInfo FirstInstance, bool Derived)
    {
        public DicomDataset? Header { get; set; }
    }

    private async Task<Facts?> FactsAsync(ResourceLevel level, string publicId, CancellationToken ct)
    {
        var instances = await queries.RelativesAsync(publicId, level, ResourceLevel.Instance, ct);
        if (instances is null || instances.Count == 0) return null; // deleted since
        var first = await queries.GetAsync(instances[0], ResourceLevel.Instance, ct);
        if (first is null) return null;
        var tags = (await queries.TagsWithAncestorsAsync([publicId], ct)).GetValueOrDefault(publicId) ?? [];
        var series = level >= ResourceLevel.Series ? [] : await queries.RelativesAsync(publicId, level, ResourceLevel.Series, ct) ?? [];
        var modalities = series.Count == 0
            ? [tags.GetValueOrDefault(DicomTags.Modality) ?? ""]
            : (await queries.TagsWithAncestorsAsync(series, ct)).Values.Select(t => t.GetValueOrDefault(DicomTags.Modality) ?? "").ToHashSet();
        var derived = first.Metadata.ContainsKey("AnonymizedFrom") || first.Metadata.ContainsKey("ModifiedFrom");
        return new Facts(tags, modalities, first, derived);
    }

    private async Task<bool> MatchesAsync(RoutingRule rule, Facts facts, CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(rule.CallingAet) && !Like(facts.FirstInstance.Metadata.GetValueOrDefault("RemoteAET") ?? "", rule.CallingAet)) return false;
        if (!string.IsNullOrEmpty(rule.Modality) && !facts.Modalities.Any(m => Like(m, rule.Modality))) return false;
        foreach (var (key, pattern) in rule.Tags)
        {
            var tag = DicomTag.Parse(key);
            if (!facts.Tags.TryGetValue(tag, out var value))
            {
                // Not a main tag: read it from the first instance's header.
                if (facts.Header is null && facts.FirstInstance.File is { } file) facts.Header = files.Read(file).Dataset;
                value = facts.Header?.GetString(tag) ?? "";
            }
            if (!Like(value, pattern)) return false;
        }
        return true;
    }

    /// <summary>DICOM-style wildcards (* any run, ? one character), case-insensitive, on the whole value; linear time (no regex to backtrack on a stored value).</summary>
    public static bool Like(string value, string pattern) => WildcardPattern.IsMatch(value.Trim(), pattern.Trim(), ignoreCase: true);
}
