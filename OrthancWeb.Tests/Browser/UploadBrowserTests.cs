using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// The upload page in chromium: files go from the browser straight to the server over HTTP (upload.js), several at a
/// time, with per-file outcomes, retries, and a drop of thousands of files. benchmarks/upload-benchmark.sh runs the
/// pace test at CD size (1,400 files, 700 MB) beside REST and Debian's orthanc.
/// </summary>
public sealed class UploadBrowserTests(ITestOutputHelper output) : ChromiumServerTest("ow-upload-ui-")
{
    /// <summary>The server's data apart from the files the tests choose in the browser.</summary>
    protected override string ServerFolder => Path.Combine(Folder, "server");

    /// <summary>Writes <paramref name="count"/> new instances (UIDs of their own) into a folder, as a CD's files.</summary>
    private string WriteFiles(string name, int count, int pixelBytes, int studies = 10)
    {
        var folder = Directory.CreateDirectory(Path.Combine(Folder, name)).FullName;
        var run = Random.Shared.Next();
        Parallel.For(0, count, i =>
        {
            var root = $"2.25.{run}.{i % studies}";
            var instance = GeneratedInstances.Ct($"UPL-{name}-{i % studies}", root + ".1", root + ".2", $"{root}.3.{i}", i, pixelBytes, "20261201", $"UPLOAD {name} {i % studies}");
            File.WriteAllBytes(Path.Combine(folder, $"IM{i:D5}"), instance.Bytes);
        });
        return folder;
    }

    private async Task<string> WaitForSummaryAsync(IPage page, string text, int timeoutMs, string shot)
    {
        try { await page.WaitForSelectorAsync($"[data-testid=upload-summary]:has-text('{text}')", new() { Timeout = timeoutMs }); }
        catch (TimeoutException)
        {
            await Chromium.ShotAsync(page, shot + "-failed");
            output.WriteLine(await page.InnerTextAsync("body"));
            output.WriteLine(Server.Log);
            throw;
        }
        return await page.InnerTextAsync("[data-testid=upload-summary]");
    }

    private async Task<long> CountInstancesAsync()
    {
        using var client = Server.CreateRestClient();
        return (await Rest.GetJsonAsync(client, "/statistics"))["CountInstances"]!.GetValue<long>();
    }

    [Fact]
    public async Task Five_thousand_files_in_one_pick_are_all_stored_and_the_page_stays_usable()
    {
        // Blazor's file input sent files through the circuit: a pick of 500 closed the page. Now the browser sends them.
        const int files = 5000;
        var folder = WriteFiles("pick5000", files, pixelBytes: 2048);
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        await Chromium.OpenUploadPageAsync(page, Server);
        var clock = Stopwatch.StartNew();
        await page.SetInputFilesAsync("[data-testid=upload-input]", Directory.GetFiles(folder));
        var summary = await WaitForSummaryAsync(page, $"{files} / {files} files", 300_000, "upload-5000");
        output.WriteLine($"{files} files through the browser in {clock.Elapsed.TotalSeconds:0.0} s: {summary}");
        Assert.Contains($"{files} stored", summary);
        Assert.Equal(files, await CountInstancesAsync());
        await Chromium.ShotAsync(page, "upload-5000");
        // The circuit is alive: the page still navigates.
        await page.ClickAsync("[data-testid=nav-studies]");
        await page.WaitForSelectorAsync("text=UPLOAD pick5000", new() { Timeout = 30_000 });
    }

    [Fact]
    public async Task A_dropped_set_survives_lost_connections_and_failed_files_can_be_sent_again()
    {
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        await Chromium.OpenUploadPageAsync(page, Server);
        var folder = WriteFiles("drop", 6, pixelBytes: 4096, studies: 1);
        var dropped = Directory.GetFiles(folder).Select(f => new { name = Path.GetFileName(f), data = Convert.ToBase64String(File.ReadAllBytes(f)) })
            .Append(new { name = "autorun.inf", data = Convert.ToBase64String("[autorun]\nopen=viewer.exe\n"u8.ToArray()) })
            .ToArray();
        // The first request is cut, as a flaky network would; any request carrying IM00003 is cut until the network
        // heals. The small files go in one request: after three failures it is split, and only IM00003 fails.
        var requests = 0;
        var carryingIm3 = 0;
        var healed = false;
        await page.RouteAsync("**/ui/upload/file*", async route =>
        {
            var body = route.Request.PostDataBuffer is { } b ? System.Text.Encoding.Latin1.GetString(b) : "";
            var first = Interlocked.Increment(ref requests) == 1;
            var im3 = body.Contains("filename=\"IM00003\"", StringComparison.Ordinal);
            if (im3) Interlocked.Increment(ref carryingIm3);
            if (!healed && (first || im3)) await route.AbortAsync("connectionreset");
            else await route.ContinueAsync();
        });
        await page.EvaluateAsync("""
            files => {
              const transfer = new DataTransfer();
              for (const f of files) transfer.items.add(new File([Uint8Array.from(atob(f.data), c => c.charCodeAt(0))], f.name));
              document.querySelector('[data-testid=upload-drop]').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
            }
            """, dropped);
        var summary = await WaitForSummaryAsync(page, "7 / 7 files", 60_000, "upload-drop");
        Assert.Contains("5 stored, 0 already stored, 0 rejected, 1 skipped, 1 failed", summary);
        Assert.Equal(6, carryingIm3); // three times in the batch, three times alone, then reported
        Assert.Contains("connection lost", await page.InnerTextAsync("[data-testid=upload-results]"));
        await Chromium.ShotAsync(page, "upload-retry-offered");

        healed = true;
        await page.ClickAsync("[data-testid=upload-retry]");
        summary = await WaitForSummaryAsync(page, "6 stored", 60_000, "upload-retried");
        Assert.Contains("7 / 7 files", summary);
        Assert.DoesNotContain("failed", summary);
        Assert.Equal(6, await CountInstancesAsync());
    }

    [Fact]
    public async Task Browser_upload_keeps_pace_with_REST_on_the_same_files()
    {
        var files = int.TryParse(Environment.GetEnvironmentVariable("ORTHANCWEB_UPLOAD_FILES"), CultureInfo.InvariantCulture, out var n) ? n : 200;
        var kb = int.TryParse(Environment.GetEnvironmentVariable("ORTHANCWEB_UPLOAD_KB"), CultureInfo.InvariantCulture, out var k) ? k : 512;
        var viaBrowser = Directory.GetFiles(WriteFiles("pace-browser", files, kb * 1024, studies: 4));
        var viaRest = Directory.GetFiles(WriteFiles("pace-rest", files, kb * 1024, studies: 4));
        var mb = viaBrowser.Sum(f => new FileInfo(f).Length) / (1024.0 * 1024);

        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        await Chromium.OpenUploadPageAsync(page, Server);
        var clock = Stopwatch.StartNew();
        await page.SetInputFilesAsync("[data-testid=upload-input]", viaBrowser);
        var summary = await WaitForSummaryAsync(page, $"{files} / {files} files", 600_000, "upload-pace");
        var browserSeconds = clock.Elapsed.TotalSeconds;
        Assert.Contains($"{files} stored", summary);

        // The same number of files of the same size over REST, six at a time as the page sends them.
        using var client = Server.CreateRestClient();
        clock.Restart();
        await Parallel.ForEachAsync(viaRest, new ParallelOptions { MaxDegreeOfParallelism = 6 }, async (path, ct) =>
        {
            using var content = new StreamContent(File.OpenRead(path));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
            using var response = await client.PostAsync("/instances", content, ct);
            response.EnsureSuccessStatusCode();
        });
        var restSeconds = clock.Elapsed.TotalSeconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"upload of {files} files ({mb:0} MB): chromium {browserSeconds:0.00} s ({mb / browserSeconds:0} MB/s), REST {restSeconds:0.00} s ({mb / restSeconds:0} MB/s)"));
        Assert.Equal(2 * files, await CountInstancesAsync());
    }
}
