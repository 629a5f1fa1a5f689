using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>
/// A program a test starts and leaves running (the server, storescp, dcmqrscp), with everything it prints kept for the
/// failure messages.
/// </summary>
/// <remarks>
/// Its output arrives by events on other threads, so the process can have exited while its last lines are still on
/// their way: HasExited says nothing about them. <see cref="WaitForExitAsync"/> waits for both streams to reach their
/// end (as <see cref="Process.WaitForExitAsync"/> does) before the output is read; reading it as soon as HasExited
/// turned true sometimes lost the last line, the one that said why the server stopped.
/// </remarks>
public sealed class PeerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private PeerProcess(Process process) => _process = process;

    /// <summary>Starts <paramref name="start"/> with both output streams read into <see cref="Output"/>.</summary>
    public static PeerProcess Start(ProcessStartInfo start)
    {
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var peer = new PeerProcess(new Process { StartInfo = start });
        peer._process.OutputDataReceived += peer.Append;
        peer._process.ErrorDataReceived += peer.Append;
        peer._process.Start();
        peer._process.BeginOutputReadLine();
        peer._process.BeginErrorReadLine();
        return peer;
    }

    private void Append(object sender, DataReceivedEventArgs e)
    {
        if (e.Data is not null) lock (_output) _output.AppendLine(e.Data);
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>What it has printed so far, standard output and error in the order they were read.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    private string Name => $"{Path.GetFileName(_process.StartInfo.FileName)} {string.Join(' ', _process.StartInfo.ArgumentList)}";

    /// <summary>Waits until it has exited and everything it printed has been read; then its whole output.</summary>
    public async Task<string> WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(deadline.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"{Name} had not ended (with its output) after {timeout.TotalSeconds:0} s:\n{Output}"); }
        return Output;
    }

    /// <summary>Waits until it has printed <paramref name="text"/>; fails with its output if it exits first or the deadline passes.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (HasExited && !(await WaitForExitAsync(timeout)).Contains(text, StringComparison.Ordinal))
                throw new InvalidOperationException($"{Name} exited (code {_process.ExitCode}) without printing \"{text}\":\n{Output}");
            if (deadline.Elapsed > timeout)
                throw new TimeoutException($"{Name} had not printed \"{text}\" after {timeout.TotalSeconds:0} s:\n{Output}");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Waits until <paramref name="port"/> on the loopback accepts a TCP connection: the program is listening. Fails
    /// with its output if it exits first or the deadline passes.
    /// </summary>
    public async Task WaitUntilListeningAsync(int port, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        SocketException? last = null;
        while (deadline.Elapsed < limit)
        {
            if (HasExited)
                throw new InvalidOperationException($"{Name} exited (code {_process.ExitCode}) before listening on port {port}:\n{await WaitForExitAsync(TimeSpan.FromSeconds(10))}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException ex) { last = ex; }
            await Task.Delay(20);
        }
        throw new TimeoutException($"{Name} was not listening on port {port} after {limit.TotalSeconds:0} s ({last?.SocketErrorCode}):\n{Output}");
    }

    /// <summary>SIGKILL to it and its children (no shutdown code runs), and waits until they are gone and their output read.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(); // without a timeout, this one waits for the output too
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        finally { _process.Dispose(); }
    }
}
