using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

/// <summary>A server under measurement: its process, data folder, ports, AE title and a REST client.</summary>
sealed record BenchServer(string Name, Process Process, string DataDir, int HttpPort, int DicomPort, string Aet, HttpClient Http, int HttpsPort = 0) : IAsyncDisposable
{
    /// <summary>The server process's CPU time so far, user and kernel.</summary>
    public (TimeSpan User, TimeSpan Kernel) Cpu()
    {
        Process.Refresh();
        return (Process.UserProcessorTime, Process.PrivilegedProcessorTime);
    }

    /// <summary>
    /// The server's CPU per instance since <paramref name="before"/>, user and kernel: kernel time that grows from run
    /// to run is how the page-cache cost of buffered writes showed up (see README).
    /// </summary>
    public string CpuPerInstance((TimeSpan User, TimeSpan Kernel) before, int instances)
    {
        var after = Cpu();
        return $"server CPU per instance: {(after.User - before.User).TotalMicroseconds / instances:N0} µs user, " +
               $"{(after.Kernel - before.Kernel).TotalMicroseconds / instances:N0} µs kernel";
    }

    public async ValueTask DisposeAsync()
    {
        if (!Process.HasExited) Process.Kill(true);
        await Process.WaitForExitAsync();
        Http.Dispose();
    }
}

/// <summary>
/// Starts OrthancWeb (the Release build) and Debian's orthanc the same way for every benchmark: own config file in
/// a temp folder, free loopback ports, TCP_NODELAY=1, a known modality BENCHSCU, no authentication cost for orthanc.
/// </summary>
static class BenchServers
{
    public const string Password = "Bench-Pa55word";
    public const string ScuAet = "BENCHSCU";

    /// <summary>
    /// A fresh folder for the servers' data: BENCH_WORK_DIR, else under /var/tmp. Not /tmp: on these machines the test
    /// suites create and delete tens of thousands of files there, and ext4 then takes 0.4-0.8 ms to create each new
    /// file in /tmp against 0.12-0.22 ms in any other folder of the same disk (measured with a C loop of
    /// open/write/rename), a cost both servers would pay per instance that no storage folder of a hospital box sees.
    /// </summary>
    public static string NewWorkFolder(string prefix)
    {
        var root = Environment.GetEnvironmentVariable("BENCH_WORK_DIR") ?? (Directory.Exists("/var/tmp") ? "/var/tmp" : Path.GetTempPath());
        var dir = Path.Combine(root, prefix + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static Task<BenchServer> StartOursAsync(string dir) => StartOursAsync(dir, "");

    /// <param name="settings">More of the "OrthancWeb" section's settings (", \"key\": value"), e.g. another index provider.</param>
    public static Task<BenchServer> StartOursAsync(string dir, string settings)
    {
        Directory.CreateDirectory(dir);
        // BENCH_OURS_DLL measures another build of ours, e.g. a ReadyToRun publish (what a deployment runs).
        var dll = Environment.GetEnvironmentVariable("BENCH_OURS_DLL")
            ?? HeaderParse.FindUp("OrthancWeb/bin/Release/net10.0/OrthancWeb.dll") ?? throw new FileNotFoundException("build first: dotnet build -c Release OrthancWeb");
        var (http, dicom, https) = (FreePort(), FreePort(), FreePort());
        var config = Path.Combine(dir, "appsettings.json");
        File.WriteAllText(config, $$"""
            { "OrthancWeb": { "HttpsPort": {{https}}, "HttpPort": {{http}}, "DataDirectory": "data", "RemoteAccessAllowed": false,
              "DicomPort": {{dicom}}, "DicomAet": "OWEB", "DicomModalities": { "bench": { "AET": "{{ScuAet}}", "Host": "127.0.0.1", "Port": 1 } }{{settings}} } }
            """);
        var psi = new ProcessStartInfo("dotnet", [dll, "--config", config]);
        psi.Environment["Security__AdminPassword"] = Password;
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        return LaunchAsync("OrthancWeb", psi, Path.Combine(dir, "data"), http, dicom, "OWEB", auth: true, https);
    }

    public static Task<BenchServer> StartOrthancAsync(string dir) => StartOrthancAsync(dir, null);

    /// <param name="dicomWeb">More of the DICOMweb plugin's options (", key: value" inside "DicomWeb": {...}), or null to run without it.</param>
    /// <param name="serveFolders">The ServeFolders plugin's section ({...}), or null to run without it.</param>
    public static Task<BenchServer> StartOrthancAsync(string dir, string? dicomWeb, string? serveFolders = null)
    {
        if (!File.Exists("/usr/sbin/Orthanc")) throw new FileNotFoundException("apt-get install -y orthanc (it is run by hand; never as a service)");
        Directory.CreateDirectory(dir);
        var (http, dicom) = (FreePort(), FreePort());
        var config = Path.Combine(dir, "orthanc.json");
        File.WriteAllText(config, $$"""
            {
              "Name": "bench", "StorageDirectory": "{{dir}}/storage", "IndexDirectory": "{{dir}}/index",
              "HttpPort": {{http}}, "DicomPort": {{dicom}}, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false,
              "AuthenticationEnabled": false, "StorageCompression": false,
              "Plugins": [ {{(dicomWeb is null ? "" : "\"/usr/share/orthanc/plugins/libOrthancDicomWeb.so\"")}}{{(dicomWeb is null || serveFolders is null ? "" : ", ")}}{{(serveFolders is null ? "" : "\"/usr/share/orthanc/plugins/libServeFolders.so\"")}} ],
              {{(dicomWeb is null ? "" : $"\"DicomWeb\": {{ \"Enable\": true, \"Root\": \"/dicom-web/\", \"EnableWado\": true, \"WadoRoot\": \"/wado\" {dicomWeb} }},")}}
              {{(serveFolders is null ? "" : $"\"ServeFolders\": {serveFolders},")}}
              "DicomModalities": { "bench": [ "{{ScuAet}}", "127.0.0.1", 1 ] }
            }
            """);
        return LaunchAsync("orthanc", new ProcessStartInfo("/usr/sbin/Orthanc", [config]), dir, http, dicom, "ORTHANC", auth: false);
    }

    /// <summary>BENCH_ROUNDS rounds of both servers (default 2).</summary>
    public static int Rounds { get; } = int.TryParse(Environment.GetEnvironmentVariable("BENCH_ROUNDS"), out var r) && r > 0 ? r : 2;

    /// <summary>
    /// Both servers' runs, round after round in alternating order (ours first, then orthanc first, ...): later runs on
    /// this machine are slower for a server writing through the page cache, so a fixed order would hand that drift to
    /// one side. With BENCH_OURS_ONLY set, ours runs once and the result is null (nothing to compare).
    /// </summary>
    public static async Task<(List<T> Ours, List<T> Theirs)?> AlternatingRoundsAsync<T>(Func<Task<T>> ours, Func<Task<T>> theirs)
    {
        if (Environment.GetEnvironmentVariable("BENCH_OURS_ONLY") is not null)
        {
            await ours();
            return null;
        }
        var (a, b) = (new List<T>(), new List<T>());
        for (var round = 0; round < Rounds; round++)
        {
            if (round % 2 == 0) { a.Add(await ours()); b.Add(await theirs()); }
            else { b.Add(await theirs()); a.Add(await ours()); }
        }
        return (a, b);
    }

    /// <summary>Each round's ratio of rates, then the ratio of the two servers' mean rates against the target.</summary>
    public static void PrintRates(string what, IReadOnlyList<double> ours, IReadOnlyList<double> theirs, double target)
    {
        Console.WriteLine();
        for (var round = 0; round < ours.Count; round++)
            Console.WriteLine($"round {round + 1} ({(round % 2 == 0 ? "OrthancWeb first" : "orthanc first")}): {what} ratio {ours[round] / theirs[round]:N2}x");
        var (oursRate, theirsRate) = (ours.Average(), theirs.Average());
        Console.WriteLine($"{what}: OrthancWeb {oursRate:N0} instances/s, orthanc {theirsRate:N0} instances/s (mean of {ours.Count} rounds), ratio {oursRate / theirsRate:N2}x (target >= {target})");
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static async Task<BenchServer> LaunchAsync(string name, ProcessStartInfo psi, string dataDir, int http, int dicom, string aet, bool auth, int https = 0)
    {
        // Every server starts with nothing of another's left to write. orthanc does not fsync its files, so after its
        // run about 1.5 GB stayed dirty in the page cache, and our syncfs then flushed it during our run (the same
        // server measured 495 instances/s first and 383 after orthanc; orthanc 494 and 488).
        using (var sync = Process.Start(new ProcessStartInfo("sync") { UseShellExecute = false })!)
            await sync.WaitForExitAsync();
        // Then a pause (BENCH_PAUSE seconds, default 30). Later runs were slower here even so, for a server writing
        // through the page cache: every new cache page costs more CPU once a few GB have been written (see README).
        var pause = int.TryParse(Environment.GetEnvironmentVariable("BENCH_PAUSE"), out var seconds) ? seconds : 30;
        if (pause > 0) await Task.Delay(TimeSpan.FromSeconds(pause));
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        // DCMTK and Orthanc read TCP_NODELAY from the environment; without it each DIMSE round trip waits ~40 ms.
        psi.Environment["TCP_NODELAY"] = "1";
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}"), Timeout = TimeSpan.FromMinutes(5) };
        if (auth) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + Password)));
        // A deadline, not an expectation: a start on a loaded 2-core box has taken over 30 s.
        for (var i = 0; i < 1200; i++)
        {
            if (p.HasExited) throw new InvalidOperationException($"{name} exited at start-up");
            try
            {
                if ((await client.GetAsync("/system")).IsSuccessStatusCode)
                    return new BenchServer(name, p, dataDir, http, dicom, aet, client, https);
            }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{name} did not start");
    }
}
