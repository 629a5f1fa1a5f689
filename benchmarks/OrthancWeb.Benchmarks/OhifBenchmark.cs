using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.DicomWeb.Ohif;

/// <summary>
/// OHIF's time to first image on a 500-slice CT (512x512, 16-bit) in Debian's chromium: the same OHIF bundle served by
/// us under /ohif/ and by Debian's orthanc 1.10.1 through its ServeFolders plugin beside its DICOMweb plugin, each
/// reading its own server's DICOMweb on the page's origin. Ours is opened as a user opens it, over HTTPS with the login
/// cookie, and again over plain HTTP with HTTP Basic on every request (the transport orthanc gets: Debian's orthanc
/// 1.10.1 crashes on its first HTTPS request). Each load is a fresh browser context (a cold cache) against warm servers,
/// timed from the navigation's start until the viewport's canvas shows the image; BENCH_ROUNDS rounds (default 5), the
/// order of the servers reversed every other round. A load during which processes outside the benchmark used more than
/// BENCH_MAX_OTHER_CORES (default 0.25) is made again, up to twice: on 2 cores such a neighbour slowed loads by 3-4 s.
///   benchmarks/ohif-benchmark.sh [folder-of-the-500-instance-series]
/// </summary>
static partial class OhifBenchmark
{
    private const string Chromium = "/usr/bin/chromium";

    /// <summary>
    /// Whether the viewport shows the CT: rows across the middle of cornerstone's canvas read back and counted for lit
    /// pixels (the set's noise lights about a quarter of the image). A few rows, not the canvas, since it is polled
    /// every animation frame on a 2-core box where OHIF is decoding at the same time.
    /// </summary>
    private const string Drawn = """
        () => {
          const canvas = document.querySelector('canvas.cornerstone-canvas');
          if (!canvas || canvas.width === 0 || canvas.height === 0) return false;
          const ctx = canvas.getContext('2d');
          let lit = 0, seen = 0;
          for (const y of [0.35, 0.5, 0.65]) {
            const row = ctx.getImageData(0, Math.floor(canvas.height * y), canvas.width, 1).data;
            for (let i = 0; i < row.length; i += 4, seen++) if (row[i] + row[i + 1] + row[i + 2] > 30) lit++;
          }
          return lit > seen / 50;
        }
        """;

    /// <summary>A place OHIF is opened from: its study URL, the cookies or header it needs (ours) and the server behind it.</summary>
    private sealed record Target(string Name, BenchServer Server, string Url, string? StorageState = null, string? Authorization = null);

    /// <summary>
    /// One timed load, in ms from the navigation's start: OHIF up (its first DICOMweb request), the series' metadata
    /// received, the image drawn; and CPU during the load: the server's, and that of processes not of this benchmark
    /// (in cores: on this 2-core box anything else running shows there, and makes that load slower).
    /// </summary>
    private sealed record Load(double Booted, double Metadata, double FirstImage, double ServerCpuMs, double OtherCores, string Timeline)
    {
        public bool Noisy => OtherCores > MaxOtherCores;
    }

    private static readonly double MaxOtherCores =
        double.TryParse(Environment.GetEnvironmentVariable("BENCH_MAX_OTHER_CORES"), System.Globalization.CultureInfo.InvariantCulture, out var c) ? c : 0.25;

    /// <summary>One request the page made, on the load's clock.</summary>
    private sealed class Request(IRequest request, double start)
    {
        public IRequest Raw { get; } = request;
        public double Start { get; } = start;
        public double End { get; set; } = double.NaN;
        public string Outcome { get; set; } = "";
    }

    public static async Task RunAsync(string? folder)
    {
        folder ??= Environment.GetEnvironmentVariable("BENCH_SERIES500") ?? HeaderParse.Generate("orthancweb-bench-series500", "1", "1", "1", "500");
        var files = Directory.GetFiles(folder, "*.dcm").Order().ToArray();
        var header = DicomFile.Open(files[0], new DicomReadOptions { StopBeforeTag = DicomTags.PixelData }).Dataset;
        var (study, series) = (header.GetString(DicomTags.StudyInstanceUID)!, header.GetString(DicomTags.SeriesInstanceUID)!);
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("BENCH_ROUNDS"), out var r) && r > 0 ? r : 5;
        var dist = typeof(OhifViewer).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "OhifBundle")?.Value;
        if (dist is null || !File.Exists(Path.Combine(dist, "index.html"))) throw new FileNotFoundException($"OHIF's bundle is not at {dist}: build OrthancWeb first");
        Console.WriteLine($"ohif benchmark: OHIF {OhifViewer.Version}, a {files.Length}-instance series, {rounds} rounds of a cold-cache load per server");

        var work = BenchServers.NewWorkFolder("orthancweb-ohif-bench-");
        try
        {
            await using var ours = await BenchServers.StartOursAsync(Path.Combine(work, "ours"));
            await UploadAsync(ours, files);
            // orthanc serves the page exactly as ours does: our index.html (rebased to /ohif/) and our app-config.js,
            // whose DICOMweb roots are the page's own origin, so they point at orthanc's /dicom-web and /wado there.
            var index = await ours.Http.GetStringAsync("/ohif/viewer");
            var appConfig = Regex.Replace(await ours.Http.GetStringAsync("/ohif/app-config.js"), "friendlyName: .*,", "friendlyName: 'orthanc',");
            var site = ServeFoldersCopy(work, dist, index, appConfig);
            // ServeFolders maps MIME types from the extension: OHIF's route "viewer" has none and must be the page.
            // AllowCache: without it every answer says no-store; ours lets hashed names be cached.
            var serveFolders = $$"""
                { "Folders": { "/ohif": "{{site}}" }, "AllowCache": true,
                  "Extensions": { "": "text/html", "jsonc": "application/json", "ico": "image/x-icon", "webapp": "application/json" } }
                """;
            await using var orthanc = await BenchServers.StartOrthancAsync(Path.Combine(work, "orthanc"), "", serveFolders);
            await UploadAsync(orthanc, files);

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = Chromium, Headless = true,
                Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
            });
            var path = $"/ohif/viewer?StudyInstanceUIDs={Uri.EscapeDataString(study)}";
            Target[] targets =
            [
                new("OrthancWeb", ours, $"https://127.0.0.1:{ours.HttpsPort}{path}", StorageState: await SignInAsync(browser, ours)),
                new("orthanc", orthanc, $"http://127.0.0.1:{orthanc.HttpPort}{path}"),
                // Basic on every request makes the page a script to us, which the plain HTTP port serves (a browser's
                // page load without it is sent to HTTPS).
                new("OrthancWeb (plain HTTP, Basic)", ours, $"http://127.0.0.1:{ours.HttpPort}{path}", Authorization: ours.Http.DefaultRequestHeaders.Authorization!.ToString()),
            ];
            BenchServer[] servers = [ours, orthanc];

            // The servers' caches and JIT, and chromium itself, warmed by one load each before anything is timed.
            foreach (var t in targets)
                Print(t.Name, "warm-up", await LoadAsync(browser, t, series, servers, timeline: false));
            var results = targets.ToDictionary(t => t.Name, _ => new List<Load>());
            for (var round = 0; round < rounds; round++)
            {
                foreach (var t in round % 2 == 0 ? targets : targets.Reverse())
                {
                    // The last round also prints what the page asked for until its first image.
                    var load = await LoadAsync(browser, t, series, servers, timeline: round == rounds - 1);
                    for (var retry = 1; retry <= 2 && load.Noisy; retry++)
                    {
                        Print(t.Name, $"round {round + 1}, set aside (other processes busy)", load);
                        load = await LoadAsync(browser, t, series, servers, timeline: round == rounds - 1);
                    }
                    results[t.Name].Add(load);
                    Console.Write(load.Timeline);
                    Print(t.Name, $"round {round + 1}", load);
                }
            }

            Console.WriteLine();
            foreach (var t in targets)
            {
                var runs = results[t.Name];
                Console.WriteLine($"{t.Name}: first image {string.Join(", ", runs.Select(x => $"{x.FirstImage:N0}{(x.Noisy ? "*" : "")}"))} ms; OHIF up at {string.Join(", ", runs.Select(x => $"{x.Booted:N0}"))} ms; " +
                                  $"series metadata at {string.Join(", ", runs.Select(x => $"{x.Metadata:N0}"))} ms");
            }
            if (results.Values.SelectMany(x => x).Any(x => x.Noisy))
                Console.WriteLine($"* still made while other processes used more than {MaxOtherCores} cores, after two tries");
            var theirs = results["orthanc"];
            foreach (var t in targets.Where(t => t.Server == ours))
            {
                var runs = results[t.Name];
                double Ours(Func<Load, double> f) => BenchServers.Median(runs.Select(f));
                double Theirs(Func<Load, double> f) => BenchServers.Median(theirs.Select(f));
                Console.WriteLine($"OHIF time to first image ({files.Length}-slice CT): {t.Name} {Ours(x => x.FirstImage):N0} ms, orthanc {Theirs(x => x.FirstImage):N0} ms, " +
                                  $"ratio {Theirs(x => x.FirstImage) / Ours(x => x.FirstImage):N2}x (medians of {rounds}; OHIF up at {Ours(x => x.Booted):N0} against {Theirs(x => x.Booted):N0} ms, " +
                                  $"series metadata received at {Ours(x => x.Metadata):N0} against {Theirs(x => x.Metadata):N0} ms)");
            }
        }
        finally { Directory.Delete(work, true); }
    }

    private static void Print(string name, string what, Load x) =>
        Console.WriteLine($"[{name}] {what}: first image {x.FirstImage:N0} ms (OHIF up at {x.Booted:N0} ms, series metadata received at {x.Metadata:N0} ms); " +
                          $"server CPU {x.ServerCpuMs:N0} ms, other processes {x.OtherCores:N2} cores");

    private static async Task UploadAsync(BenchServer server, string[] files)
    {
        foreach (var f in files)
        {
            using var up = await server.Http.PostAsync("/instances", new ByteArrayContent(await File.ReadAllBytesAsync(f)));
            if (!up.IsSuccessStatusCode) throw new InvalidOperationException($"{server.Name}: upload {f}: {(int)up.StatusCode}");
        }
    }

    /// <summary>
    /// The folder orthanc serves as /ohif: OHIF's dist by symbolic links (200 MB not copied), but its own index.html and
    /// app-config.js, and the page again as "viewer", the route the study is opened on (ServeFolders has no fallback).
    /// </summary>
    private static string ServeFoldersCopy(string work, string dist, string index, string appConfig)
    {
        // ServeFolders takes the MIME type from the last dot of the whole path: the folder's own must have none.
        var site = Directory.CreateDirectory(Path.Combine(work, "orthanc-ohif")).FullName;
        if (site.Contains('.', StringComparison.Ordinal)) throw new InvalidOperationException($"{site}: a dot in the path would be taken for an extension");
        foreach (var entry in Directory.EnumerateFileSystemEntries(dist))
        {
            var name = Path.GetFileName(entry);
            if (name is not ("index.html" or "app-config.js")) File.CreateSymbolicLink(Path.Combine(site, name), entry);
        }
        File.WriteAllText(Path.Combine(site, "index.html"), index);
        File.WriteAllText(Path.Combine(site, "viewer"), index);
        File.WriteAllText(Path.Combine(site, "app-config.js"), appConfig);
        return site;
    }

    /// <summary>Our login page, once: the session cookie is then handed to every fresh context, which thus starts with an empty cache.</summary>
    private static async Task<string> SignInAsync(IBrowser browser, BenchServer ours)
    {
        await using var context = await browser.NewContextAsync(new() { IgnoreHTTPSErrors = true });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"https://127.0.0.1:{ours.HttpsPort}/account/login");
        await page.FillAsync("#userName", "admin");
        await page.FillAsync("#password", BenchServers.Password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("[data-testid=current-user]");
        return await context.StorageStateAsync();
    }

    /// <summary>One cold-cache load.</summary>
    private static async Task<Load> LoadAsync(IBrowser browser, Target target, string series, BenchServer[] servers, bool timeline)
    {
        // Nothing of the previous load still running on any server (OHIF prefetches the whole stack after its first image).
        foreach (var s in servers) await QuietAsync(s);
        await using var context = await browser.NewContextAsync(new()
        {
            IgnoreHTTPSErrors = true, ViewportSize = new() { Width = 1400, Height = 1000 }, StorageState = target.StorageState,
            ExtraHTTPHeaders = target.Authorization is null ? null : new Dictionary<string, string> { ["Authorization"] = target.Authorization },
        });
        // OHIF as a returning user sees it: its first-visit tour of the viewer already seen.
        await context.AddInitScriptAsync("localStorage.setItem('shownTours', JSON.stringify(['basicViewerTour']))");
        var page = await context.NewPageAsync();
        var requests = new ConcurrentDictionary<IRequest, Request>();
        var clock = new Stopwatch();
        var drawn = false; // the requests as they were at the image: the page goes on loading the stack after it
        page.Request += (_, q) => { if (!drawn) requests[q] = new Request(q, clock.Elapsed.TotalMilliseconds); };
        page.RequestFinished += (_, q) => { if (!drawn && requests.TryGetValue(q, out var x)) x.End = clock.Elapsed.TotalMilliseconds; };
        page.RequestFailed += (_, q) => { if (!drawn && requests.TryGetValue(q, out var x)) (x.End, x.Outcome) = (clock.Elapsed.TotalMilliseconds, "failed: " + q.Failure); };
        var (serverCpu, machine) = (target.Server.Cpu(), MachineCpu.Now());
        clock.Start();
        await page.GotoAsync(target.Url, new() { WaitUntil = WaitUntilState.Commit });
        try { await page.WaitForFunctionAsync(Drawn, null, new() { Timeout = 120_000 }); }
        catch (TimeoutException)
        {
            await page.ScreenshotAsync(new() { Path = Path.Combine(Path.GetTempPath(), "ohif-bench-timeout.png") });
            throw new TimeoutException($"{target.Name}: no image after 120 s (screenshot in {Path.GetTempPath()}ohif-bench-timeout.png)");
        }
        var firstImage = clock.Elapsed.TotalMilliseconds;
        drawn = true;
        var (serverNow, others) = (target.Server.Cpu(), machine.OthersSince(clock.Elapsed));
        var booted = requests.Values.Where(x => Kind(x.Raw.Url).StartsWith("DICOMweb", StringComparison.Ordinal)).Min(x => x.Start);
        // The metadata precedes the image: OHIF needs it to set up the viewport, so it has finished by now.
        var metadata = requests.Values.Where(x => x.Raw.Url.Contains($"/series/{series}/metadata", StringComparison.Ordinal)).MinBy(x => x.Start)?.End ?? double.NaN;
        var text = new List<string>();
        if (timeline)
        {
            // What was on the screen, to see that the image detected is the CT (taken after the clock was read).
            var shot = Path.Combine(Path.GetTempPath(), $"ohif-bench-{Regex.Replace(target.Name, "[^A-Za-z]+", "-").Trim('-')}.png");
            await page.ScreenshotAsync(new() { Path = shot });
            text.Add($"[{target.Name}] screenshot at the first image: {shot}");
            await TimelineAsync(text, target.Name, requests.Values.Where(x => x.Start <= firstImage).OrderBy(x => x.Start).ToList(), firstImage);
        }
        return new Load(booted, metadata, firstImage, (serverNow.User + serverNow.Kernel - serverCpu.User - serverCpu.Kernel).TotalMilliseconds, others, string.Concat(text.Select(l => l + "\n")));
    }

    /// <summary>Waits until the server uses less than 5 ms of CPU in 200 ms (a poll of its CPU time), for at most 20 s.</summary>
    private static async Task QuietAsync(BenchServer server)
    {
        var last = server.Cpu();
        for (var i = 0; i < 100; i++)
        {
            await Task.Delay(200);
            var now = server.Cpu();
            if ((now.User + now.Kernel - last.User - last.Kernel).TotalMilliseconds < 5) return;
            last = now;
        }
    }

    /// <summary>
    /// What the page fetched until its first image, by kind (count, bytes on the wire, content encodings, first start and
    /// last end), then each DICOMweb request with its status, size on the wire and Content-Encoding.
    /// </summary>
    private static async Task TimelineAsync(List<string> text, string name, List<Request> requests, double firstImage)
    {
        var answers = new Dictionary<Request, (long Bytes, int Status, string Encoding)>();
        foreach (var q in requests.Where(x => !double.IsNaN(x.End) && x.Outcome.Length == 0))
        {
            var sizes = await q.Raw.SizesAsync();
            var response = await q.Raw.ResponseAsync();
            answers[q] = (sizes.ResponseBodySize + sizes.ResponseHeadersSize, response?.Status ?? 0, response?.Headers.GetValueOrDefault("content-encoding") ?? "identity");
        }
        text.Add($"[{name}] requests until the first image ({firstImage:N0} ms): kind, count, KB on the wire, encodings, first start - last end (ms)");
        foreach (var kind in requests.GroupBy(x => Kind(x.Raw.Url)).OrderBy(g => g.Min(x => x.Start)))
        {
            var ends = kind.Where(x => !double.IsNaN(x.End)).Select(x => x.End).DefaultIfEmpty(double.NaN);
            var encodings = string.Join("+", kind.Where(answers.ContainsKey).Select(x => answers[x].Encoding).Distinct().Order());
            text.Add($"    {kind.Key,-22} {kind.Count(),4} {kind.Sum(x => answers.GetValueOrDefault(x).Bytes) / 1024.0,8:N0} KB  {encodings,-14} {kind.Min(x => x.Start),7:N0} - {ends.Max(),7:N0}" +
                     $"{(kind.Count(x => double.IsNaN(x.End)) is var open and > 0 ? $"  ({open} unfinished)" : "")}");
        }
        foreach (var q in requests.Where(x => Kind(x.Raw.Url).StartsWith("DICOMweb", StringComparison.Ordinal)))
        {
            // UIDs shortened to their last 6 characters: the path's shape is what tells the requests apart.
            var url = Uid().Replace(Uri.UnescapeDataString(new Uri(q.Raw.Url).PathAndQuery), m => "…" + m.Value[^6..]);
            var a = answers.GetValueOrDefault(q);
            text.Add($"    {q.Start,7:N0} - {q.End,7:N0} ms  {a.Status,3} {a.Bytes / 1024.0,6:N0} KB {a.Encoding,-8}  {url[..Math.Min(url.Length, 140)]} {q.Outcome}");
        }
    }

    [GeneratedRegex(@"\d+(\.\d+){5,}")]
    private static partial Regex Uid();

    private static string Kind(string url)
    {
        var path = new Uri(url).AbsolutePath;
        if (path.Contains("/dicom-web/", StringComparison.Ordinal))
            return path.Contains("/frames/", StringComparison.Ordinal) ? "DICOMweb frames"
                : path.EndsWith("/metadata", StringComparison.Ordinal) ? "DICOMweb metadata"
                : path.Contains("/rendered", StringComparison.Ordinal) || path.Contains("/thumbnail", StringComparison.Ordinal) ? "DICOMweb rendered"
                : "DICOMweb QIDO";
        if (path.StartsWith("/wado", StringComparison.Ordinal)) return "WADO-URI";
        if (path.EndsWith("/app-config.js", StringComparison.Ordinal)) return "OHIF app-config.js";
        return Path.GetExtension(path) switch
        {
            ".js" => "OHIF scripts",
            ".wasm" => "OHIF wasm",
            ".css" => "OHIF css",
            "" or ".html" => "OHIF page",
            _ => "OHIF other (" + Path.GetExtension(path) + ")",
        };
    }
}

/// <summary>
/// The CPU that processes outside this benchmark (this process and its descendants: chromium, Playwright's driver, the
/// servers) used over a span: the machine's busy time from /proc/stat less our processes' own, read from /proc.
/// </summary>
sealed class MachineCpu
{
    private readonly long _busy;
    private readonly Dictionary<int, long> _ours;

    private MachineCpu(long busy, Dictionary<int, long> ours) => (_busy, _ours) = (busy, ours);

    public static MachineCpu Now() => new(Busy(), Ours());

    /// <summary>Cores' worth of CPU used by other processes since this snapshot, over <paramref name="elapsed"/>.</summary>
    public double OthersSince(TimeSpan elapsed)
    {
        var ours = Ours();
        // A process of ours that started since counts from zero; one that ended is left out of both sides.
        var oursDelta = ours.Sum(p => p.Value - _ours.GetValueOrDefault(p.Key));
        var others = Busy() - _busy - oursDelta;
        return Math.Max(0, others) / 100.0 / elapsed.TotalSeconds; // USER_HZ: 100 ticks a second
    }

    /// <summary>Every CPU's ticks in user, nice, system, irq, softirq and steal.</summary>
    private static long Busy()
    {
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new[] { 1, 2, 3, 6, 7, 8 }.Sum(i => long.Parse(f[i], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>This process and its descendants: ticks of user and system time, by process id.</summary>
    private static Dictionary<int, long> Ours()
    {
        var all = new Dictionary<int, (int Parent, long Ticks)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                // Fields after the command's closing parenthesis (the name may hold spaces): state, ppid, ... utime (14th), stime (15th).
                var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                all[pid] = (int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), long.Parse(f[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(f[12], System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (IOException) { } // ended while read
        }
        var ours = new Dictionary<int, long>();
        foreach (var (pid, (_, ticks)) in all)
        {
            for (var p = pid; p > 1 && all.TryGetValue(p, out var info); p = info.Parent)
                if (p == Environment.ProcessId) { ours[pid] = ticks; break; }
        }
        return ours;
    }
}
