using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Network.Services;

/// <summary>
/// C-STORE ingest with DCMTK's storescu (TCP_NODELAY=1, one association, files sent one after the other) into
/// OrthancWeb and into Debian's orthanc, then C-FIND study-level latency on both with our SCU.
/// </summary>
static class DicomStoreBenchmark
{
    private const int WarmUpFinds = 100;

    /// <summary>BENCH_ROUNDS rounds of both servers (default 2).</summary>
    internal static int Rounds { get; } = int.TryParse(Environment.GetEnvironmentVariable("BENCH_ROUNDS"), out var r) && r > 0 ? r : 2;

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    public static async Task RunAsync(string? folder)
    {
        folder ??= HeaderParse.Generate("orthancweb-bench-2000", "20", "2", "2", "25");
        var files = Directory.GetFiles(folder, "*.dcm").Order().ToArray();
        Console.WriteLine($"dicom-store benchmark: {files.Length} files with storescu (TCP_NODELAY=1), one association, then C-FIND latency");
        var work = BenchServers.NewWorkFolder("orthancweb-dicom-bench-");
        var warmUp = WarmUpSet.For(files);
        try
        {
            if (Environment.GetEnvironmentVariable("BENCH_OURS_ONLY") is not null)
            {
                await Run(work, files, warmUp, BenchServers.StartOursAsync);
                return;
            }
            // Rounds in alternating order (ours first, then orthanc first, ...): this machine drifts by up to 25%
            // within minutes, and a fixed order would hand that drift to one side. Every server keeps its data until
            // the end, so that no run follows a burst of deletions (ext4 then searches past the freed inodes).
            var ours = new List<(double Rate, double FindMs)>();
            var theirs = new List<(double Rate, double FindMs)>();
            for (var round = 0; round < Rounds; round++)
            {
                if (round % 2 == 0)
                {
                    ours.Add(await Run(work, files, warmUp, BenchServers.StartOursAsync));
                    theirs.Add(await Run(work, files, warmUp, BenchServers.StartOrthancAsync));
                }
                else
                {
                    theirs.Add(await Run(work, files, warmUp, BenchServers.StartOrthancAsync));
                    ours.Add(await Run(work, files, warmUp, BenchServers.StartOursAsync));
                }
            }
            Console.WriteLine();
            for (var round = 0; round < Rounds; round++)
                Console.WriteLine($"round {round + 1} ({(round % 2 == 0 ? "OrthancWeb first" : "orthanc first")}): C-STORE ratio {ours[round].Rate / theirs[round].Rate:N2}x");
            var (oursRate, theirsRate) = (ours.Average(r => r.Rate), theirs.Average(r => r.Rate));
            var (oursFind, theirsFind) = (Median(ours.Select(r => r.FindMs)), Median(theirs.Select(r => r.FindMs)));
            Console.WriteLine($"C-STORE: OrthancWeb {oursRate:N0} instances/s, orthanc {theirsRate:N0} instances/s (mean of {Rounds} rounds), ratio {oursRate / theirsRate:N2}x (target >= 2)");
            Console.WriteLine($"C-FIND study level: OrthancWeb {oursFind:N2} ms, orthanc {theirsFind:N2} ms (median), ratio {theirsFind / oursFind:N2}x");
        }
        finally { Directory.Delete(work, true); }
    }

    /// <summary>One storescu process, one association, the files one after the other; seconds taken and whether all went well.</summary>
    private static async Task<(double Seconds, bool Clean)> StoreScu(BenchServer s, string[] files)
    {
        var psi = new ProcessStartInfo("storescu", ["-aet", BenchServers.ScuAet, "-aec", s.Aet, "127.0.0.1", s.DicomPort.ToString(), .. files])
        {
            UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true,
        };
        psi.Environment["TCP_NODELAY"] = "1";
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        clock.Stop();
        return (clock.Elapsed.TotalSeconds, p.ExitCode == 0 && !(await err).Contains("E:"));
    }

    private static async Task<(double Rate, double FindMs)> Run(string work, string[] files, string[] warmUp, Func<string, Task<BenchServer>> start)
    {
        await using var s = await start(Path.Combine(work, Guid.NewGuid().ToString("N")));
        var name = s.Name;
        {
            if (warmUp.Length > 0)
            {
                var (_, ok) = await StoreScu(s, warmUp);
                Console.WriteLine($"[{name}] warm-up: {warmUp.Length} instances of another patient (kept){(ok ? "" : " WITH ERRORS")}");
            }
            var (seconds, clean) = await StoreScu(s, files);
            var rate = files.Length / seconds;
            Console.WriteLine($"[{name}] storescu: {files.Length} instances in {seconds:N1} s = {rate:N0} instances/s{(clean ? "" : " WITH ERRORS")}");

            var times = new List<double>();
            var identifier = new DicomDataset()
                .Add(DicomTags.QueryRetrieveLevel, "STUDY").Add(DicomTags.PatientName, "DOE^JOHN1*")
                .Add(DicomTags.StudyInstanceUID, "").Add(DicomTags.StudyDate, "").Add(DicomTags.PatientID, "");
            var matches = 0;
            // 100 unmeasured finds first, as for the REST finds: the figure is that of a server that has answered
            // C-FIND before (ours recompiles a path once it is hot; orthanc is native and gains nothing from this).
            for (var i = 0; i < WarmUpFinds + 31; i++)
            {
                await using var client = await DicomClient.ConnectAsync("127.0.0.1", s.DicomPort, "BENCHSCU", s.Aet, [(SopClasses.StudyRootFind, SopClasses.Uncompressed)]);
                var c = Stopwatch.StartNew();
                matches = 0;
                await foreach (var _ in client.FindAsync(SopClasses.StudyRootFind, identifier.Clone())) matches++;
                c.Stop();
                if (i > WarmUpFinds) times.Add(c.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            var median = times[times.Count / 2];
            Console.WriteLine($"[{name}] C-FIND study by PatientName wildcard: {matches} match(es), median {median:N2} ms");
            return (rate, median);
        }
    }
}
