using System.Diagnostics;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Backup;

/// <summary>The server's assembly run as a command (backup, restore) or a start expected to fail: its exit code and all it printed.</summary>
public static class ServerCommand
{
    public sealed record Result(int ExitCode, string Output);

    public static async Task<Result> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(ServerProcess.ServerAssembly());
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["Security__AdminPassword"] = ServerProcess.AdminPassword;
        psi.Environment["Logging__Console__FormatterName"] = "simple";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        try { await p.WaitForExitAsync(deadline.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(true);
            throw new TimeoutException($"dotnet OrthancWeb.dll {string.Join(' ', args)} did not exit within 180 s:\n{await stdout}{await stderr}");
        }
        return new Result(p.ExitCode, await stdout + await stderr);
    }

    /// <summary>The root of the source tree (beside OrthancWeb.sln), where the committed fixtures are.</summary>
    public static string SourceRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "OrthancWeb.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("OrthancWeb.sln not found above " + AppContext.BaseDirectory);
    }
}
