using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

/// <summary>
/// GET /studies/{id}/archive of a 1000-instance study (512x512 CT, about 500 MB) from OrthancWeb and from Debian's
/// orthanc in one run: DICOM MB/s (the study's size over the download time, median of three, so that a compressed
/// and a stored archive compare fairly) and the server's resident memory before and at its peak while it streams, to
/// show it stays flat whatever the archive's size. OrthancWeb__ArchiveCompression=true measures our deflated variant.
/// </summary>
static class ArchiveBenchmark
{
    public static async Task RunAsync(string? folder)
    {
        folder ??= HeaderParse.Generate("orthancweb-bench-archive-1000", "1", "1", "4", "250");
        var files = Directory.GetFiles(folder, "*.dcm").Order().ToArray();
        var totalMb = files.Sum(f => new FileInfo(f).Length) / (1024.0 * 1024);
        Console.WriteLine($"archive benchmark: one study of {files.Length} instances, {totalMb:N0} MB, loopback");
        var work = BenchServers.NewWorkFolder("orthancweb-archive-bench-");
        try
        {
            var ours = await Measure(work, files, BenchServers.StartOursAsync);
            var theirs = await Measure(work, files, BenchServers.StartOrthancAsync);
            Console.WriteLine();
            Console.WriteLine($"archive: OrthancWeb {ours.MBps:N0} MB/s (RSS {ours.BaseMb:N0} -> peak {ours.PeakMb:N0} MB), " +
                $"orthanc {theirs.MBps:N0} MB/s (RSS {theirs.BaseMb:N0} -> peak {theirs.PeakMb:N0} MB), ratio {ours.MBps / theirs.MBps:N2}x (target >= 5)");
        }
        finally { Directory.Delete(work, true); }
    }

    private sealed record Result(double MBps, double BaseMb, double PeakMb);

    private static async Task<Result> Measure(string work, string[] files, Func<string, Task<BenchServer>> start)
    {
        await using var s = await start(Path.Combine(work, Guid.NewGuid().ToString("N")));
        Console.WriteLine($"[{s.Name}] uploading {files.Length} instances...");
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) is var i && i < files.Length)
            {
                using var content = new ByteArrayContent(await File.ReadAllBytesAsync(files[i]));
                using var r = await s.Http.PostAsync("/instances", content);
                r.EnsureSuccessStatusCode();
            }
        }));
        var study = JsonNode.Parse(await s.Http.GetStringAsync("/studies"))!.AsArray().Single()!.GetValue<string>();
        var studyMb = files.Sum(f => new FileInfo(f).Length) / (1024.0 * 1024);
        var rates = new List<double>();
        var baseline = ResidentMb(s.Process.Id);
        double peak = baseline;
        for (var run = 0; run < 3; run++)
        {
            using var sampler = new CancellationTokenSource();
            var sampling = Task.Run(async () =>
            {
                while (!sampler.IsCancellationRequested)
                {
                    peak = Math.Max(peak, ResidentMb(s.Process.Id));
                    await Task.Delay(20);
                }
            });
            var clock = Stopwatch.StartNew();
            using var response = await s.Http.GetAsync($"/studies/{study}/archive", HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[1 << 20];
            long bytes = 0;
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0) bytes += n;
            clock.Stop();
            sampler.Cancel();
            await sampling;
            var mbps = studyMb / clock.Elapsed.TotalSeconds;
            rates.Add(mbps);
            Console.WriteLine($"[{s.Name}] {studyMb:N0} MB of DICOM as a {bytes / (1024 * 1024)} MB archive in {clock.Elapsed.TotalSeconds:N2} s = {mbps:N0} MB/s");
        }
        rates.Sort();
        return new Result(rates[1], baseline, peak);
    }

    /// <summary>VmRSS of a process, from /proc (Linux).</summary>
    private static double ResidentMb(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException) { return 0; }
    }
}
