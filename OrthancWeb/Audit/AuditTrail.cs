using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace OrthancWeb.Audit;

/// <summary>
/// The trail as callers see it: <see cref="Record"/> stamps the event (time, the ambient actor) and queues it for the
/// <see cref="AuditWriter"/>, which writes batches in the background. Recording costs the caller one allocation and a
/// queue operation, never a disk write, and never throws.
/// </summary>
/// <remarks>
/// Back-pressure: the queue is bounded (<see cref="AuditOptions.AuditQueueCapacity"/>). Holding a C-STORE until the
/// disk catches up would turn an audit problem into an outage, and an unbounded queue would trade it for memory, so an
/// event that finds the queue full is not queued: it is counted, logged (once per gap), and the writer records one
/// "AuditGap" entry (how many, since when) as soon as it can, in the chain, where a security officer sees it. Nothing
/// is lost silently. At the measured writer throughput the queue only fills if the disk stops.
/// </remarks>
public sealed partial class AuditTrail : IAuditTrail
{
    private readonly Channel<AuditEntry> _queue;
    private readonly TimeProvider _time;
    private readonly ILogger<AuditTrail> _log;
    private readonly bool _enabled;
    private long _dropped;
    private long _droppedTotal;
    private long _firstDropTicks;
    private long _queued;

    public AuditTrail(IOptions<AuditOptions> options, TimeProvider time, ILogger<AuditTrail> log)
    {
        _time = time;
        _log = log;
        _enabled = options.Value.AuditEnabled;
        _queue = Channel.CreateBounded<AuditEntry>(new BoundedChannelOptions(options.Value.AuditQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // with TryWrite: refused, never waited for, see remarks
        });
    }

    public bool Enabled => _enabled;

    /// <summary>Events that could not be queued since the start (each one is in a gap entry, or about to be).</summary>
    public long DroppedTotal => Interlocked.Read(ref _droppedTotal);

    internal ChannelReader<AuditEntry> Reader => _queue.Reader;

    /// <summary>Events queued since the start (what <see cref="AuditWriter.FlushAsync"/> waits for).</summary>
    internal long Queued => Interlocked.Read(ref _queued);

    public void Record(AuditEvent auditEvent)
    {
        if (!_enabled || auditEvent is null) return;
        try
        {
            var actor = AuditActor.Current;
            var entry = new AuditEntry
            {
                Time = AuditChain.Normalize(_time.GetUtcNow()),
                Action = auditEvent.Action,
                Outcome = auditEvent.Outcome,
                User = auditEvent.User ?? actor?.User,
                Address = auditEvent.Address ?? actor?.Address,
                Source = auditEvent.Source ?? actor?.Source ?? AuditSources.Server,
                PatientId = auditEvent.PatientId,
                ResourceLevel = auditEvent.ResourceLevel,
                ResourceId = auditEvent.ResourceId,
                StudyInstanceUid = auditEvent.StudyInstanceUid,
                Details = auditEvent.Details,
            };
            if (_queue.Writer.TryWrite(entry)) Interlocked.Increment(ref _queued);
            else CountDropped(entry);
        }
#pragma warning disable CA1031 // recording must never break the work it describes
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _dropped);
            Interlocked.Increment(ref _droppedTotal);
            LogRecordFailed(_log, ex, auditEvent.Action);
        }
    }

    private void CountDropped(AuditEntry entry)
    {
        Interlocked.CompareExchange(ref _firstDropTicks, entry.Time.Ticks, 0);
        Interlocked.Increment(ref _droppedTotal);
        if (Interlocked.Increment(ref _dropped) == 1)
            LogQueueFull(_log, entry.Action);
    }

    /// <summary>Entries the writer could not write after its retries: counted into the next gap entry like refused ones.</summary>
    internal void CountLost(int count, DateTime firstTime)
    {
        Interlocked.CompareExchange(ref _firstDropTicks, firstTime.Ticks, 0);
        Interlocked.Add(ref _droppedTotal, count);
        Interlocked.Add(ref _dropped, count);
    }

    /// <summary>The events lost since the last call, and when the first of them happened (for the gap entry).</summary>
    internal (long Count, DateTime Since) TakeDropped()
    {
        var count = Interlocked.Exchange(ref _dropped, 0);
        var since = Interlocked.Exchange(ref _firstDropTicks, 0);
        return (count, since == 0 ? default : new DateTime(since, DateTimeKind.Utc));
    }

    /// <summary>No more events: the writer drains what is queued and stops (shutdown).</summary>
    internal void Complete() => _queue.Writer.TryComplete();

    [LoggerMessage(LogLevel.Warning, "Audit queue full: events are counted and will be recorded as a gap (first one lost: {Action})")]
    private static partial void LogQueueFull(ILogger logger, string action);

    [LoggerMessage(LogLevel.Error, "Audit event {Action} could not be recorded")]
    private static partial void LogRecordFailed(ILogger logger, Exception exception, string action);
}
