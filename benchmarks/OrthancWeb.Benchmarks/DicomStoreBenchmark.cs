using System.Diagnostics;
using System.Globalization;
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

    public static async Task RunAsync(string? folder)
    {
        folder ??= HeaderParse.Generate("orthancweb-bench-2000", "20", "2", "2", "25");
        var files = Directory.GetFiles(folder, "*.dcm").Order().ToArray();
        Console.WriteLine($"dicom-store benchmark: {files.Length} files with storescu (TCP_NODELAY=1), one association, then C-FIND latency");
        var work = BenchServers.NewWorkFolder("orthancweb-dicom-bench-");
        var warmUp = WarmUpSet.For(files);
        try
        {
            // Every server keeps its data until the end, so that no run follows a burst of deletions (ext4 then
            // searches past the freed inodes).
            if (await BenchServers.AlternatingRoundsAsync(
                    () => Run(work, files, warmUp, BenchServers.StartOursAsync),
                    () => Run(work, files, warmUp, BenchServers.StartOrthancAsync)) is not var (ours, theirs))
                return;
            BenchServers.PrintRates("C-STORE", ours.Select(r => r.Rate).ToList(), theirs.Select(r => r.Rate).ToList(), target: 2);
            var (oursFind, theirsFind) = (BenchServers.Median(ours.Select(r => r.FindMs)), BenchServers.Median(theirs.Select(r => r.FindMs)));
            Console.WriteLine($"C-FIND study level: OrthancWeb {oursFind:N2} ms, orthanc {theirsFind:N2} ms (median), ratio {theirsFind / oursFind:N2}x");
        }
        finally { Directory.Delete(work, true); }
    }

    /// <summary>One storescu process, one association, the files one after the other; seconds taken and whether all went well.</summary>
    private static async Task<(double Seconds, bool Clean)> StoreScu(BenchServer s, string[] files)
    {
        var psi = new ProcessStartInfo("storescu", ["-aet", BenchServers.ScuAet, "-aec", s.Aet, "127.0.0.1", s.DicomPort.ToString(CultureInfo.InvariantCulture), .. files])
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
            var cpu = s.Cpu();
            var (seconds, clean) = await StoreScu(s, files);
            var rate = files.Length / seconds;
            Console.WriteLine($"[{name}] storescu: {files.Length} instances in {seconds:N1} s = {rate:N0} instances/s{(clean ? "" : " WITH ERRORS")}; {s.CpuPerInstance(cpu, files.Length)}");

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
