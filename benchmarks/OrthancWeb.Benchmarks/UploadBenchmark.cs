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

    public static async Task RunAsync(string? folder)
    {
        folder ??= HeaderParse.Generate("orthancweb-bench-2000", "20", "2", "2", "25");
        var count = int.TryParse(Environment.GetEnvironmentVariable("BENCH_UPLOAD_FILES"), out var n) && n > 0 ? n : 1400;
        var files = Directory.GetFiles(folder, "*.dcm").Order().Take(count).ToArray();
        var mb = files.Sum(f => new FileInfo(f).Length) / (1024.0 * 1024);
        Console.WriteLine($"upload benchmark: {files.Length} files, {mb:N0} MB; chromium upload page, REST into ours, REST into orthanc ({InFlight} at a time)");
        var work = BenchServers.NewWorkFolder("orthancweb-upload-bench-");
        var (browser, ours, theirs) = (new List<double>(), new List<double>(), new List<double>());
        try
        {
            for (var round = 0; round < BenchServers.Rounds; round++)
            {
                browser.Add(await ThroughChromiumAsync(work, files, mb));
                ours.Add(await OverRestAsync(work, files, mb, BenchServers.StartOursAsync));
                theirs.Add(await OverRestAsync(work, files, mb, BenchServers.StartOrthancAsync));
            }
        }
        finally { Directory.Delete(work, true); }
        Console.WriteLine();
        Console.WriteLine($"chromium into OrthancWeb: {string.Join(", ", browser.Select(s => $"{s:N1} s"))} ({mb / browser.Average():N0} MB/s; target < 10 s)");
        Console.WriteLine($"REST into OrthancWeb:     {string.Join(", ", ours.Select(s => $"{s:N1} s"))} ({mb / ours.Average():N0} MB/s)");
        Console.WriteLine($"REST into orthanc:        {string.Join(", ", theirs.Select(s => $"{s:N1} s"))} ({mb / theirs.Average():N0} MB/s)");
    }

    private static async Task<double> ThroughChromiumAsync(string work, string[] files, double mb)
    {
        await using var s = await BenchServers.StartOursAsync(Path.Combine(work, Guid.NewGuid().ToString("N")));
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium, Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var context = await browser.NewContextAsync(new() { IgnoreHTTPSErrors = true, ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"https://localhost:{s.HttpsPort}/ui/upload");
        await page.FillAsync("#userName", "admin");
        await page.FillAsync("#password", BenchServers.Password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("[data-testid=upload-input][data-ready=true]", new() { State = WaitForSelectorState.Attached, Timeout = 60_000 });
        var clock = Stopwatch.StartNew();
        await page.SetInputFilesAsync("[data-testid=upload-input]", files);
        await page.WaitForSelectorAsync($"[data-testid=upload-summary]:has-text('{files.Length} / {files.Length} files')", new() { Timeout = 600_000 });
        var seconds = clock.Elapsed.TotalSeconds;
        var summary = await page.InnerTextAsync("[data-testid=upload-summary]");
        Console.WriteLine($"[chromium -> OrthancWeb] {seconds:N1} s = {mb / seconds:N0} MB/s, {files.Length / seconds:N0} files/s: {summary}");
        return seconds;
    }

    private static async Task<double> OverRestAsync(string work, string[] files, double mb, Func<string, Task<BenchServer>> start)
    {
        await using var s = await start(Path.Combine(work, Guid.NewGuid().ToString("N")));
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
