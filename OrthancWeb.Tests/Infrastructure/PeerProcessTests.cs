using System.Diagnostics;
using System.Globalization;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>The harness that runs the server and the DCMTK listeners: their output, their exit, their readiness.</summary>
public sealed class PeerProcessTests
{
    /// <summary>
    /// Output can still be on its way when the process has exited, as the server's last line ("DicomPort ... is
    /// already in use") sometimes was. Here deterministically: the program exits at once, and a child that inherited
    /// its output prints the last line a moment later. The output read once it has exited must hold that line.
    /// (Read as soon as HasExited turned true, as the harness did, it never does.)
    /// </summary>
    [Fact]
    public async Task The_output_read_after_an_exit_holds_the_last_line_printed()
    {
        await using var peer = PeerProcess.Start(new ProcessStartInfo("/bin/sh", ["-c", "echo 'first line'; (sleep 0.3; echo 'the last line') & exit 3"]));
        // As the server's start-up loop notices an exit.
        for (var waited = Stopwatch.StartNew(); !peer.HasExited; await Task.Delay(10))
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "sh has not exited after 30 s: " + peer.Output);
        var output = await peer.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("first line" + Environment.NewLine + "the last line" + Environment.NewLine, output);
    }

    [Fact]
    public async Task A_program_that_exits_instead_of_listening_fails_the_wait_with_what_it_printed()
    {
        await using var peer = PeerProcess.Start(new ProcessStartInfo("/bin/sh", ["-c", "echo 'cannot bind'; exit 1"]));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => peer.WaitUntilListeningAsync(1, TimeSpan.FromSeconds(30)));
        Assert.Contains("cannot bind", error.Message);
        Assert.Contains("code 1", error.Message);
    }

    [Fact]
    public async Task A_listener_is_ready_once_its_port_accepts_connections()
    {
        var port = OrthancWeb.Tests.Server.ServerProcess.FreePort();
        await using var peer = PeerProcess.Start(new ProcessStartInfo(Peers.Tool("storescp"), ["-aet", "READY", "-od", Path.GetTempPath(), port.ToString(CultureInfo.InvariantCulture)]));
        await peer.WaitUntilListeningAsync(port);
        var echo = Peers.Run("echoscu", "-aec", "READY", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture));
        Assert.True(echo.ExitCode == 0, echo.Stderr + peer.Output);
    }
}
