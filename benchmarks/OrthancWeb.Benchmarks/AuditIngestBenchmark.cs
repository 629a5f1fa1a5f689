using System.Diagnostics;
using System.Globalization;

/// <summary>
/// The audit trail's share of storescu ingest: our server with the trail on and off (Audit:AuditEnabled), alternating
/// rounds (BENCH_ROUNDS, default 4), one storescu association of the same files each. Rate and server CPU per instance
/// for both; the trail's cost is the difference (target: under 5 %). Meaningful on a tree where the DICOM listener
/// records its associations and C-STOREs.
///   benchmarks/audit-benchmark.sh [folder-of-dicom-files]
/// </summary>
static class AuditIngestBenchmark
{
    public static async Task RunAsync(string? folder)
    {
        folder ??= HeaderParse.Generate("orthancweb-bench-2000", "20", "2", "2", "25");
        var files = Directory.GetFiles(folder, "*.dcm").Order().ToArray();
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("BENCH_ROUNDS"), out var r) && r > 0 ? r : 4;
        Console.WriteLine($"audit-ingest benchmark: {files.Length} files with storescu, trail on and off, {rounds} alternating rounds");
        var work = BenchServers.NewWorkFolder("orthancweb-audit-bench-");
        var warmUp = WarmUpSet.For(files);
        var on = new List<(double Rate, double CpuUs)>();
        var off = new List<(double Rate, double CpuUs)>();
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                foreach (var enabled in round % 2 == 0 ? new[] { true, false } : [false, true])
                    (enabled ? on : off).Add(await Run(work, files, warmUp, enabled));
            }
        }
        finally { Directory.Delete(work, true); }
        var (rateOn, rateOff) = (on.Average(x => x.Rate), off.Average(x => x.Rate));
        var (cpuOn, cpuOff) = (on.Average(x => x.CpuUs), off.Average(x => x.CpuUs));
        Console.WriteLine();
        Console.WriteLine($"trail on : {rateOn:N0} instances/s, {cpuOn:N0} µs server CPU per instance (mean of {on.Count})");
        Console.WriteLine($"trail off: {rateOff:N0} instances/s, {cpuOff:N0} µs server CPU per instance (mean of {off.Count})");
        Console.WriteLine($"cost of the trail: {(1 - rateOn / rateOff) * 100:N1} % of the rate, {(cpuOn / cpuOff - 1) * 100:N1} % of the CPU (target < 5 %)");
    }

    private static async Task<(double Rate, double CpuUs)> Run(string work, string[] files, string[] warmUp, bool audit)
    {
        // The server inherits this process's environment: ASP.NET reads Audit__AuditEnabled as Audit:AuditEnabled.
        Environment.SetEnvironmentVariable("Audit__AuditEnabled", audit ? "true" : "false");
        await using var s = await BenchServers.StartOursAsync(Path.Combine(work, Guid.NewGuid().ToString("N")));
        if (warmUp.Length > 0) await StoreScu(s, warmUp);
        s.Process.Refresh();
        var cpu0 = s.Process.TotalProcessorTime;
        var seconds = await StoreScu(s, files);
        s.Process.Refresh();
        var cpuUs = (s.Process.TotalProcessorTime - cpu0).TotalMicroseconds / files.Length;
        var rate = files.Length / seconds;
        Console.WriteLine($"[trail {(audit ? "on " : "off")}] {files.Length} instances in {seconds:N1} s = {rate:N0} instances/s, {cpuUs:N0} µs CPU per instance");
        return (rate, cpuUs);
    }

    private static async Task<double> StoreScu(BenchServer s, string[] files)
    {
        var psi = new ProcessStartInfo("storescu", ["-aet", BenchServers.ScuAet, "-aec", s.Aet, "127.0.0.1", s.DicomPort.ToString(CultureInfo.InvariantCulture), .. files])
        {
            UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true,
        };
        psi.Environment["TCP_NODELAY"] = "1";
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) Console.WriteLine($"storescu exited with {p.ExitCode}: {await stderr}");
        return clock.Elapsed.TotalSeconds;
    }
}
