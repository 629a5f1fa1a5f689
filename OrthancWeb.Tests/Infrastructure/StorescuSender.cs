using System.Diagnostics;
using System.Globalization;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>
/// DCMTK's storescu sending files over one association, with each acknowledgement recorded as storescu reports it
/// ("Sending file: X" then "Received Store Response (Success)"), so that a test knows exactly which instances the
/// server answered for, even when the server dies half-way.
/// </summary>
public sealed class StorescuSender
{
    private readonly List<string> _acknowledged = [];
    private readonly List<string> _lines = [];
    private string? _current;

    /// <summary>Files the server answered Success (or a Warning, which also means stored) for, in order.</summary>
    public IReadOnlyList<string> Acknowledged { get { lock (_lines) return [.. _acknowledged]; } }

    public string Output { get { lock (_lines) return string.Join('\n', _lines); } }

    public int ExitCode { get; private set; } = -1;

    /// <summary>True when the association was not accepted (refused, or nothing listened).</summary>
    public bool NotAccepted { get { lock (_lines) return !_lines.Any(l => l.Contains("Association Accepted", StringComparison.Ordinal)); } }

    /// <summary>Runs storescu to completion (or to its failure when the server goes away) and returns what it acknowledged.</summary>
    public static async Task<StorescuSender> SendAsync(string callingAet, string calledAet, int port, IEnumerable<string> files, CancellationToken ct = default)
    {
        var sender = new StorescuSender();
        var psi = new ProcessStartInfo(Peers.Tool("storescu"))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["TCP_NODELAY"] = "1"; // as DCMTK reads it: no 40 ms delayed-ACK stalls
        foreach (var a in new[] { "-v", "-aet", callingAet, "-aec", calledAet, "-to", "60", "-ta", "60", "-td", "60",
                     "127.0.0.1", port.ToString(CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        foreach (var f in files) psi.ArgumentList.Add(f);
        using var p = new Process { StartInfo = psi };
        // storescu logs to one stream, in order; both are parsed the same way in case a build sends them elsewhere.
        p.OutputDataReceived += (_, e) => sender.Line(e.Data);
        p.ErrorDataReceived += (_, e) => sender.Line(e.Data);
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try { await p.WaitForExitAsync(ct); }
        catch (OperationCanceledException)
        {
            p.Kill(true);
            await p.WaitForExitAsync(CancellationToken.None);
        }
        sender.ExitCode = p.ExitCode;
        return sender;
    }

    private void Line(string? line)
    {
        if (line is null) return;
        lock (_lines)
        {
            _lines.Add(line);
            const string sending = "Sending file: ";
            var at = line.IndexOf(sending, StringComparison.Ordinal);
            if (at >= 0) _current = line[(at + sending.Length)..].Trim();
            else if (_current is not null && (line.Contains("Received Store Response (Success", StringComparison.Ordinal)
                                              || line.Contains("Received Store Response (Warning", StringComparison.Ordinal)))
            {
                _acknowledged.Add(_current);
                _current = null;
            }
        }
    }
}
