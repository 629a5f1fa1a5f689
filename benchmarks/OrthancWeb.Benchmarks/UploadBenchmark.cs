using System.Diagnostics;
using Microsoft.Playwright;

/// <summary>
/// A CD's worth of files (BENCH_UPLOAD_FILES, default 1,400 of the 2000-instance set: about 700 MB) uploaded three
/// ways, each into a fresh server: through our upload page in Debian's chromium (chosen in its file input, timed until
/// the page reports every file), over REST into ours, and over REST into Debian's orthanc; both REST runs six at a time,
/// as the page sends. Target (issue 16): the browser under 10 s.
///   benchmarks/upload-benchmark.sh [folder-of-dicom-files]
/// </summary>
static class UploadBenchmark
{
    private const string Chromium = "/usr/bin/chromium";
    private const int InFlight = 6;
    private static string[] warmUp = [];
    private static string[] pageWarmUp = [];

    /// <summary>Each server first takes the warm-up set over REST (kept), as in the store benchmarks: the figure is a
    /// running server's, not one compiling its hot code during the timed run.</summary>
    private static async Task<BenchServer> StartWarmAsync(string dir, Func<string, Task<BenchServer>> start)
    {
        var s = await start(dir);
        if (warmUp.Length > 0 && await StoreBenchmark.UploadAsync(s, warmUp) is var failed and > 0)
            throw new InvalidOperationException($"{s.Name}: {failed} warm-up uploads failed");
        return s;
    }

    public static async Task RunAsync(string? folder)
    {
        folder ??= HeaderParse.Generate("orthancweb-bench-2000", "20", "2", "2", "25");
        var count = int.TryParse(Environment.GetEnvironmentVariable("BENCH_UPLOAD_FILES"), out var n) && n > 0 ? n : 1400;
        var all = Directory.GetFiles(folder, "*.dcm").Order().ToArray();
        var files = all.Take(count).ToArray();
        var set = WarmUpSet.For(all);
        // The REST paths warm up on most of the set; the page on the rest of it, through itself (BENCH_PAGE_WARMUP).
        var throughPage = Math.Min(set.Length, int.TryParse(Environment.GetEnvironmentVariable("BENCH_PAGE_WARMUP"), out var p) && p >= 0 ? p : 100);
        (warmUp, pageWarmUp) = (set[..^throughPage], set[^throughPage..]);
        var mb = files.Sum(f => new FileInfo(f).Length) / (1024.0 * 1024);
        Console.WriteLine($"upload benchmark: {files.Length} files, {mb:N0} MB; chromium upload page, REST into ours, REST into orthanc ({InFlight} at a time)");
        var work = BenchServers.NewWorkFolder("orthancweb-upload-bench-");
        var (browser, ours, theirs) = (new List<double>(), new List<double>(), new List<double>());
        try
        {
            if (Environment.GetEnvironmentVariable("BENCH_UPLOAD_BATCHES") is not null)
            {
                // The page's requests without the browser: what the server's side of them costs.
                for (var round = 0; round < BenchServers.Rounds; round++) await BatchesAsync(work, files, mb);
                return;
            }
            for (var round = 0; round < BenchServers.Rounds; round++)
            {
                if (Environment.GetEnvironmentVariable("BENCH_CHROMIUM_ONLY") is not null) { browser.Add(await ThroughChromiumAsync(work, files, mb)); continue; }
                browser.Add(await ThroughChromiumAsync(work, files, mb));
                ours.Add(await OverRestAsync(work, files, mb, BenchServers.StartOursAsync));
                theirs.Add(await OverRestAsync(work, files, mb, BenchServers.StartOrthancAsync));
            }
        }
        finally { Directory.Delete(work, true); }
        Console.WriteLine();
        if (ours.Count == 0) { Console.WriteLine($"chromium into OrthancWeb: {string.Join(", ", browser.Select(s => $"{s:N1} s"))}"); return; }
        Console.WriteLine($"chromium into OrthancWeb: {string.Join(", ", browser.Select(s => $"{s:N1} s"))} ({mb / browser.Average():N0} MB/s; target < 10 s)");
        Console.WriteLine($"REST into OrthancWeb:     {string.Join(", ", ours.Select(s => $"{s:N1} s"))} ({mb / ours.Average():N0} MB/s)");
        Console.WriteLine($"REST into orthanc:        {string.Join(", ", theirs.Select(s => $"{s:N1} s"))} ({mb / theirs.Average():N0} MB/s)");
    }

    private static async Task<double> ThroughChromiumAsync(string work, string[] files, double mb)
    {
        await using var s = await StartWarmAsync(Path.Combine(work, Guid.NewGuid().ToString("N")), BenchServers.StartOursAsync);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium, Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", .. (Environment.GetEnvironmentVariable("BENCH_CHROMIUM_ARGS") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)],
        });
        var context = await browser.NewContextAsync(new() { IgnoreHTTPSErrors = true, ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"https://localhost:{s.HttpsPort}/ui/upload");
        await page.FillAsync("#userName", "admin");
        await page.FillAsync("#password", BenchServers.Password);
        await page.ClickAsync("button[type=submit]");
        // The page's own path is warmed as the REST path is: the warm-up files held back for it go through the page
        // first (a server in use has had its upload page used), then the page is opened afresh for the timed run.
        await UploadThroughPageAsync(page, pageWarmUp);
        await page.ReloadAsync();
        Console.WriteLine($"[chromium -> OrthancWeb] page warmed with {pageWarmUp.Length} files; timed upload of {files.Length} files");
        var seconds = await UploadThroughPageAsync(page, files);
        var summary = await page.InnerTextAsync("[data-testid=upload-summary]");
        Console.WriteLine($"[chromium -> OrthancWeb] {seconds:N1} s = {mb / seconds:N0} MB/s, {files.Length / seconds:N0} files/s: {summary}");
        return seconds;
    }

    /// <summary>The page's requests without the browser (BENCH_UPLOAD_BATCHES): multipart batches of up to 64 files and
    /// 16 MB over HTTPS, six at a time.</summary>
    private static async Task<double> BatchesAsync(string work, string[] files, double mb)
    {
        await using var s = await StartWarmAsync(Path.Combine(work, Guid.NewGuid().ToString("N")), BenchServers.StartOursAsync);
        // The server's own self-signed certificate, and no other.
        using var expected = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(s.DataDir, "certs", "server.pfx"), null);
        using var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == expected.GetCertHashString() } };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://localhost:{s.HttpsPort}"), DefaultRequestVersion = System.Net.HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Authorization = s.Http.DefaultRequestHeaders.Authorization;
        var batches = new List<string[]>();
        for (var i = 0; i < files.Length;)
        {
            var (batch, bytes) = (new List<string>(), 0L);
            while (i < files.Length && batch.Count < 64 && (batch.Count == 0 || bytes + new FileInfo(files[i]).Length <= 16 << 20)) { bytes += new FileInfo(files[i]).Length; batch.Add(files[i++]); }
            batches.Add([.. batch]);
        }
        var failures = 0;
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = InFlight }, async (batch, ct) =>
        {
            using var form = new MultipartFormDataContent();
            foreach (var path in batch) form.Add(new StreamContent(File.OpenRead(path)), "file", Path.GetFileName(path));
            using var response = await client.PostAsync("/ui/upload/file", form, ct);
            if (!response.IsSuccessStatusCode) Interlocked.Increment(ref failures);
        });
        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"[HttpClient, the page's requests -> OrthancWeb] {seconds:N1} s = {mb / seconds:N0} MB/s ({failures} failed requests)");
        return seconds;
    }

    private static async Task<double> UploadThroughPageAsync(IPage page, string[] files)
    {
        if (files.Length == 0) return 0;
        await page.WaitForSelectorAsync("[data-testid=upload-input][data-ready=true]", new() { State = WaitForSelectorState.Attached, Timeout = 60_000 });
        var clock = Stopwatch.StartNew();
        await page.SetInputFilesAsync("[data-testid=upload-input]", files);
        await page.WaitForSelectorAsync($"[data-testid=upload-summary]:has-text('{files.Length} / {files.Length} files')", new() { Timeout = 600_000 });
        return clock.Elapsed.TotalSeconds;
    }

    private static async Task<double> OverRestAsync(string work, string[] files, double mb, Func<string, Task<BenchServer>> start)
    {
        await using var s = await StartWarmAsync(Path.Combine(work, Guid.NewGuid().ToString("N")), start);
        var failures = 0;
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = InFlight }, async (path, ct) =>
        {
            using var content = new StreamContent(File.OpenRead(path));
            using var response = await s.Http.PostAsync("/instances", content, ct);
            if (!response.IsSuccessStatusCode) Interlocked.Increment(ref failures);
        });
        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"[REST -> {s.Name}] {seconds:N1} s = {mb / seconds:N0} MB/s, {files.Length / seconds:N0} files/s ({failures} failures)");
        return seconds;
    }
}
