namespace OrthancWeb.Ingest;

/// <summary>What one sender stored in one hour.</summary>
public sealed record ArrivalCount(string Sender, int Instances, long Bytes);

/// <summary>The instances stored in the last 24 hours, per hour (oldest first, the current hour last) and per sender.</summary>
/// <param name="Hours">The start of each hour (UTC).</param>
/// <param name="PerHour">For each hour of <paramref name="Hours"/>, what each sender stored in it.</param>
/// <param name="LastMinutes">What each sender stored in the last <see cref="ArrivalMonitor.RecentWindow"/>, busiest first.</param>
public sealed record ArrivalSnapshot(IReadOnlyList<DateTimeOffset> Hours, IReadOnlyList<IReadOnlyList<ArrivalCount>> PerHour, IReadOnlyList<ArrivalCount> LastMinutes)
{
    /// <summary>The senders of the whole day, busiest first.</summary>
    public IReadOnlyList<string> Senders { get; } = PerHour.SelectMany(h => h).GroupBy(c => c.Sender)
        .OrderByDescending(g => g.Sum(c => c.Instances)).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key).ToList();
}

/// <summary>
/// Counts what arrives, per sender (the calling AE title of a C-STORE, else the way it came: REST API, upload page),
/// in minute buckets kept for a day, so that the home page can say what is arriving now without querying the index
/// while modalities store. In memory: the counts start again with the server (the index keeps the instances, their
/// RemoteAET and ReceptionDate, for anything older).
/// </summary>
public sealed class ArrivalMonitor(TimeProvider time)
{
    /// <summary>How far back "now" looks.</summary>
    public static readonly TimeSpan RecentWindow = TimeSpan.FromMinutes(5);

    private const int Minutes = 24 * 60;
    private readonly Lock _lock = new();
    // Minute number (since the epoch) -> sender -> counts. At most a day of minutes is kept.
    private readonly SortedDictionary<long, Dictionary<string, (int Instances, long Bytes)>> _minutes = [];

    private long _recorded;

    /// <summary>How many instances were recorded since the server started: a change means something arrived.</summary>
    public long Recorded => Interlocked.Read(ref _recorded);

    /// <summary>The sender name shown for an instance that came this way.</summary>
    public static string SenderOf(IngestSource source) => source.Origin switch
    {
        IngestOrigin.DicomProtocol => string.IsNullOrWhiteSpace(source.RemoteAet) ? "DICOM (no AE title)" : source.RemoteAet.Trim(),
        IngestOrigin.RestApi => "REST API",
        IngestOrigin.WebUI => "Upload page",
        var other => other.ToString(),
    };

    /// <summary>Counts one instance stored (called once it is durable, on every ingest path).</summary>
    public void Record(IngestSource source, long bytes)
    {
        var sender = SenderOf(source);
        var minute = MinuteOf(time.GetUtcNow());
        lock (_lock)
        {
            if (!_minutes.TryGetValue(minute, out var senders))
            {
                _minutes[minute] = senders = [];
                // A new minute: forget the one that just left the day (a few entries at most).
                while (_minutes.Count > 0 && _minutes.Keys.First() <= minute - Minutes) _minutes.Remove(_minutes.Keys.First());
            }
            var (instances, total) = senders.GetValueOrDefault(sender);
            senders[sender] = (instances + 1, total + bytes);
        }
        Interlocked.Increment(ref _recorded);
    }

    public ArrivalSnapshot Snapshot()
    {
        var now = time.GetUtcNow();
        var minute = MinuteOf(now);
        var firstHour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(-23);
        var hours = Enumerable.Range(0, 24).Select(h => firstHour.AddHours(h)).ToList();
        var perHour = hours.Select(_ => new Dictionary<string, (int Instances, long Bytes)>()).ToList();
        var recent = new Dictionary<string, (int Instances, long Bytes)>();
        lock (_lock)
        {
            foreach (var (m, senders) in _minutes)
            {
                var at = DateTimeOffset.FromUnixTimeSeconds(m * 60);
                var hour = (int)Math.Floor((at - firstHour).TotalHours);
                // The current minute and the five before it: at least the last five minutes.
                var isRecent = m >= minute - RecentWindow.TotalMinutes;
                foreach (var (sender, counts) in senders)
                {
                    if (hour is >= 0 and < 24) Add(perHour[hour], sender, counts);
                    if (isRecent) Add(recent, sender, counts);
                }
            }
        }
        return new ArrivalSnapshot(hours,
            perHour.Select(h => (IReadOnlyList<ArrivalCount>)h.Select(Count).OrderBy(c => c.Sender, StringComparer.Ordinal).ToList()).ToList(),
            recent.Select(Count).OrderByDescending(c => c.Instances).ThenBy(c => c.Sender, StringComparer.Ordinal).ToList());
    }

    private static long MinuteOf(DateTimeOffset at) => at.ToUnixTimeSeconds() / 60;

    private static void Add(Dictionary<string, (int Instances, long Bytes)> into, string sender, (int Instances, long Bytes) counts)
    {
        var (instances, bytes) = into.GetValueOrDefault(sender);
        into[sender] = (instances + counts.Instances, bytes + counts.Bytes);
    }

    private static ArrivalCount Count(KeyValuePair<string, (int Instances, long Bytes)> entry) => new(entry.Key, entry.Value.Instances, entry.Value.Bytes);
}
