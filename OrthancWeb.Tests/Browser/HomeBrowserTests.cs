using System.Diagnostics;
using System.Globalization;
using Microsoft.Playwright;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// The home page in chromium: what arrived, from whom, the storage against its limit and the jobs, live. Timed alone
/// (see <see cref="Alone"/>): beside two other server tests on a 2-core CI machine the page under twenty associations
/// took a median 1.2 s instead of this box's 0.36 s, the figure of the machine's contention and not of the page.
/// </summary>
[Collection(Alone.Name)]
public sealed class HomeBrowserTests(ITestOutputHelper output) : ChromiumServerTest("ow-ui-home-")
{
    private readonly int _dicomPort = ServerProcess.FreePort();

    /// <summary>
    /// A storage limit, so that the page draws the used space against it; the 20 modalities of the load test all
    /// call from this one host, so its limit of associations per host (8) is raised to let them in.
    /// </summary>
    protected override string Settings => $", \"DicomPort\": {_dicomPort}, \"MaximumStorageSize\": 500, \"DicomMaximumAssociationsPerHost\": 24";

    /// <summary>Writes a generated series to files and returns their paths.</summary>
    private string[] SeriesFiles(string patientId, string uidRoot, int count)
    {
        var folder = Directory.CreateDirectory(Path.Combine(Folder, patientId)).FullName;
        return GeneratedInstances.Series(patientId, uidRoot, count, description: $"STUDY OF {patientId}")
            .Select((g, i) => { var path = Path.Combine(folder, $"{i}.dcm"); File.WriteAllBytes(path, g.Bytes); return path; })
            .ToArray();
    }

    [Fact]
    public async Task Home_shows_arrivals_per_sender_and_the_recent_studies_live_without_a_reload()
    {
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        await page.WaitForSelectorAsync("[data-testid=recent-studies] >> text=Nothing received yet.");
        await page.WaitForSelectorAsync("[data-testid=arrivals-now] >> text=Nothing is arriving.");
        Assert.Equal("0", await page.InnerTextAsync("[data-testid=count-instances]"));

        // A modality stores a study over DICOM while the page is open; a script uploads another over REST.
        var sent = await StorescuSender.SendAsync("CT_SCANNER", "ORTHANCWEB", _dicomPort, SeriesFiles("HOME-CT", "2.25.7001", 3));
        Assert.Equal(3, sent.Acknowledged.Count);
        using (var client = Server.CreateRestClient())
            foreach (var file in SeriesFiles("HOME-REST", "2.25.7002", 2))
                Assert.True((await client.PostAsync("/instances", new ByteArrayContent(await File.ReadAllBytesAsync(file)))).IsSuccessStatusCode);

        // The page follows without a reload: the newest study first, each sender with its count, the counters.
        try
        {
            await page.WaitForFunctionAsync("""
                () => {
                  const rows = [...document.querySelectorAll('[data-testid=recent-study]')].map(r => r.textContent);
                  const rest = rows.findIndex(t => t.includes('GEN^HOME-REST')), ct = rows.findIndex(t => t.includes('GEN^HOME-CT'));
                  return rest >= 0 && ct > rest;
                }
                """, null, new() { Timeout = 15_000 });
        }
        catch (TimeoutException)
        {
            output.WriteLine(await page.InnerTextAsync("body"));
            output.WriteLine(Server.Log);
            throw;
        }
        await page.WaitForSelectorAsync("[data-testid=arrival]:has-text('CT_SCANNER') >> td:text-is('3')", new() { Timeout = 15_000 });
        await page.WaitForSelectorAsync("[data-testid=arrival]:has-text('REST API') >> td:text-is('2')", new() { Timeout = 15_000 });
        await page.WaitForFunctionAsync("() => document.querySelector('[data-testid=count-instances]').textContent.trim() === '5'", null, new() { Timeout = 15_000 });
        // A recent study is a link to its study page, its patient a link to the timeline.
        var row = page.Locator("[data-testid=recent-study]", new() { HasText = "GEN^HOME-CT" });
        Assert.Matches("^ui/studies/[0-9a-f-]+$", await row.Locator("a[href^='ui/studies/']").GetAttributeAsync("href"));
        Assert.Matches("^ui/patients/[0-9a-f-]+$", await row.Locator("a[href^='ui/patients/']").GetAttributeAsync("href"));
        // The charts are drawn: arrivals per hour and per sender, and the storage against its 500 MB limit.
        await page.WaitForSelectorAsync("[data-testid=arrivals-chart] svg", new() { Timeout = 15_000 });
        Assert.Contains("5 in all, from 2 sender(s)", await page.GetAttributeAsync("[data-testid=arrivals-chart]", "aria-label"));
        await page.WaitForSelectorAsync("[data-testid=storage-chart] svg");
        Assert.Contains("of 500 MiB", await page.InnerTextAsync("[data-testid=storage-used]"));
        await Chromium.ShotAsync(page, "home-01-live");
    }

    [Fact]
    public async Task Home_stays_fast_while_twenty_associations_store()
    {
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        await StorescuSender.SendAsync("FIRST", "ORTHANCWEB", _dicomPort, SeriesFiles("LOAD-FIRST", "2.25.7199", 1)); // something to list
        using var stop = new CancellationTokenSource();
        // 20 modalities at once, each sending its own series of 100 instances.
        var senders = Enumerable.Range(0, 20)
            .Select(i => StorescuSender.SendAsync($"MODALITY{i:00}", "ORTHANCWEB", _dicomPort,
                SeriesFiles($"LOAD-{i:00}", $"2.25.71{i:00}", 100), stop.Token))
            .ToList();
        var loads = new List<long>();
        try
        {
            while (loads.Count < 5 || senders.Any(s => !s.IsCompleted) && loads.Count < 40)
            {
                // A clinician going back to the home page from the studies: until its lists are on screen.
                await page.ClickAsync("[data-testid=nav-studies]");
                await page.WaitForSelectorAsync("[data-testid=studies-grid]");
                var clock = Stopwatch.StartNew();
                await page.ClickAsync("[data-testid=nav-home]");
                await page.WaitForSelectorAsync("[data-testid=recent-study]");
                loads.Add(clock.ElapsedMilliseconds);
            }
        }
        finally
        {
            output.WriteLine($"home page shown under load (ms): {string.Join(", ", loads)}");
        }
        var results = await Task.WhenAll(senders);
        Assert.All(results, r => Assert.Equal(100, r.Acknowledged.Count));
        // While it was open, the page kept following: every modality is in the arrivals, and the page says so live.
        await Chromium.Interactive(page);
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=arrival]').length === 21", null, new() { Timeout = 15_000 });
        await page.WaitForFunctionAsync("() => document.querySelector('[data-testid=count-instances]').textContent.replace(/\\D/g, '') === '2001'", null, new() { Timeout = 15_000 });
        await Chromium.ShotAsync(page, "home-02-twenty-modalities");
        // The page's own queries take about 10 ms under this load; what the clinician waits for is mostly the CPU the
        // 20 associations leave on a 2-core machine. The median under a second, none stuck (figures in the README).
        var sorted = loads.Order().ToList();
        Assert.True(sorted[sorted.Count / 2] < 1000 && sorted[^1] < 5000, $"home page shown after {string.Join(", ", loads)} ms");
    }
}
