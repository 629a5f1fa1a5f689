using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using OrthancWeb.Hosting;

namespace OrthancWeb.Audit;

/// <summary>
/// Sends each written entry to the hospital's log collector as an RFC 5424 syslog message, over UDP (RFC 5426: one
/// message per datagram) or TCP with octet counting (RFC 6587 3.4.1: "LENGTH SP MESSAGE"), carrying the PS3.15 A.5
/// audit message (the IHE ATNA way) or a compact line. The database stays the record of authority; this copy, off the
/// machine, is what shows a rewritten tail. Entries are sent after they are committed, off the writer's path: a
/// collector that is down or slow costs a bounded buffer, and what overflows it is counted and logged.
/// </summary>
public sealed partial class SyslogForwarder(IOptions<AuditOptions> options, IOptions<ServerOptions> server, TimeProvider time, ILogger<SyslogForwarder> log)
    : IAsyncDisposable
{
    /// <summary>Facility 10 (security/authorization), severity 5 (notice): PRI 85, as IHE ATNA sends audit messages.</summary>
    public const int Facility = 10;
    public const int NoticeSeverity = 5;
    public const int WarningSeverity = 4;
    public const string AppName = "OrthancWeb";
    private const int Capacity = 10_000;

    private readonly Channel<AuditEntry> _queue = Channel.CreateBounded<AuditEntry>(new BoundedChannelOptions(Capacity) { SingleReader = true });
    private readonly string _host = SafeHostName();
    private Task? _loop;
    private long _dropped;
    private long _sent;

    public bool Enabled => !string.IsNullOrEmpty(options.Value.AuditSyslogServer);

    public long Sent => Interlocked.Read(ref _sent);

    public long Dropped => Interlocked.Read(ref _dropped);

    public string AuditSourceId => string.IsNullOrEmpty(options.Value.AuditSourceId) ? server.Value.Name : options.Value.AuditSourceId;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Enabled && _loop is null) _loop = Task.Run(SendLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public void Enqueue(IReadOnlyList<AuditEntry> entries)
    {
        if (!Enabled) return;
        foreach (var e in entries)
        {
            if (_queue.Writer.TryWrite(e)) continue;
            if (Interlocked.Increment(ref _dropped) == 1) LogBehind(log, options.Value.AuditSyslogServer);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        if (_loop is null) return;
        // A collector that does not answer must not hold the shutdown for long: a few seconds, then what is left is logged.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try { await _loop.WaitAsync(timeout.Token); }
        catch (OperationCanceledException) { LogUnsent(log, _queue.Reader.Count); }
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    /// <summary>
    /// One RFC 5424 message: "&lt;PRI&gt;1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG" with no structured data, the
    /// message in UTF-8 after a BOM (6.4). MSGID "IHE+RFC-3881" marks an A.5 audit message, as IHE ATNA does.
    /// </summary>
    public string Format(AuditEntry e, out byte[] bytes)
    {
        var dicom = !string.Equals(options.Value.AuditSyslogFormat, "text", StringComparison.OrdinalIgnoreCase);
        var severity = e.Outcome == AuditOutcome.Success ? NoticeSeverity : WarningSeverity;
        var header = string.Create(CultureInfo.InvariantCulture,
            $"<{Facility * 8 + severity}>1 {DateTime.SpecifyKind(e.Time, DateTimeKind.Utc):yyyy-MM-ddTHH:mm:ss.ffffffZ} {_host} {AppName} {Environment.ProcessId} {(dicom ? "IHE+RFC-3881" : "AUDIT")} - ");
        var body = dicom ? DicomAuditMessage.ToXml(e, AuditSourceId, _host) : Text(e);
        var head = Encoding.ASCII.GetBytes(header);
        var msg = Encoding.UTF8.GetBytes(body);
        bytes = new byte[head.Length + 3 + msg.Length];
        head.CopyTo(bytes, 0);
        bytes[head.Length] = 0xEF; bytes[head.Length + 1] = 0xBB; bytes[head.Length + 2] = 0xBF;
        msg.CopyTo(bytes, head.Length + 3);
        return header + body;
    }

    /// <summary>The compact line: key=value pairs, in the chain's order of fields, with the entry's hash.</summary>
    public static string Text(AuditEntry e) => string.Create(CultureInfo.InvariantCulture,
        $"id={e.Id} action={e.Action} outcome={(int)e.Outcome} user={Quote(e.User)} address={Quote(e.Address)} source={e.Source} patient={Quote(e.PatientId)} level={Quote(e.ResourceLevel)} resource={Quote(e.ResourceId)} study={Quote(e.StudyInstanceUid)} details={Quote(e.Details)} hash={e.Hash}");

    private static string Quote(string? v) => v is null ? "-" : "\"" + v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private async Task SendLoopAsync()
    {
        var (host, port) = Parse(options.Value.AuditSyslogServer);
        var tcp = string.Equals(options.Value.AuditSyslogProtocol, "tcp", StringComparison.OrdinalIgnoreCase);
        TcpClient? tcpClient = null;
        UdpClient? udpClient = null;
        var failures = 0;
        try
        {
            await foreach (var e in _queue.Reader.ReadAllAsync())
            {
                Format(e, out var bytes);
                while (true)
                {
                    try
                    {
                        if (tcp)
                        {
                            if (tcpClient is null)
                            {
                                tcpClient = new TcpClient();
                                await tcpClient.ConnectAsync(host, port);
                            }
                            // RFC 6587 3.4.1 octet counting: the frame's length in bytes, a space, the message.
                            var prefix = Encoding.ASCII.GetBytes(bytes.Length.ToString(CultureInfo.InvariantCulture) + " ");
                            var stream = tcpClient.GetStream();
                            await stream.WriteAsync(prefix);
                            await stream.WriteAsync(bytes);
                        }
                        else
                        {
                            udpClient ??= new UdpClient(host, port);
                            await udpClient.SendAsync(bytes);
                        }
                        Interlocked.Increment(ref _sent);
                        failures = 0;
                        break;
                    }
                    catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException)
                    {
                        tcpClient?.Dispose(); tcpClient = null;
                        udpClient?.Dispose(); udpClient = null;
                        if (++failures == 1) LogSendFailed(log, ex, options.Value.AuditSyslogServer);
                        if (_queue.Reader.Completion.IsCompleted || failures > 50) { Interlocked.Increment(ref _dropped); break; }
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * failures)), time);
                    }
                }
            }
        }
        finally
        {
            tcpClient?.Dispose();
            udpClient?.Dispose();
        }
    }

    internal static (string Host, int Port) Parse(string server)
    {
        var colon = server.LastIndexOf(':');
        var host = server[..colon].Trim('[', ']');
        return (host, int.Parse(server[(colon + 1)..], CultureInfo.InvariantCulture));
    }

    /// <summary>RFC 5424 6.2.4: the host's name, printable US-ASCII without spaces, at most 255 characters.</summary>
    private static string SafeHostName()
    {
        var name = new string(Environment.MachineName.Where(c => c > 32 && c < 127).ToArray());
        return name.Length == 0 ? "-" : name.Length > 255 ? name[..255] : name;
    }

    [LoggerMessage(LogLevel.Warning, "Audit: the syslog collector {Server} is behind; entries not forwarded are counted (the database keeps them all)")]
    private static partial void LogBehind(ILogger logger, string server);

    [LoggerMessage(LogLevel.Warning, "Audit: cannot send to the syslog collector {Server}; retrying")]
    private static partial void LogSendFailed(ILogger logger, Exception exception, string server);

    [LoggerMessage(LogLevel.Warning, "Audit: {Count} entries not forwarded to syslog at shutdown (the database keeps them)")]
    private static partial void LogUnsent(ILogger logger, int count);
}
