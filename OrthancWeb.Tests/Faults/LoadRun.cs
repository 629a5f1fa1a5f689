using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using OrthancWeb.Tests.Browser;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Faults;

/// <summary>How hard and how long to load the server (the suite's short run, or the benchmark's two minutes).</summary>
public sealed record LoadSettings(int Seconds, int Associations, int Uploaders, int SeedStudies, int PixelBytes, int InstancesPerStudy)
{
    /// <summary>The settings from ORTHANCWEB_LOAD_* variables (benchmarks/load-benchmark.sh sets them), else <paramref name="defaults"/>.</summary>
    public static LoadSettings FromEnvironment(LoadSettings defaults)
    {
        static int Get(string name, int fallback) =>
            int.TryParse(Environment.GetEnvironmentVariable("ORTHANCWEB_LOAD_" + name), CultureInfo.InvariantCulture, out var v) ? v : fallback;
        return new LoadSettings(Get("SECONDS", defaults.Seconds), Get("ASSOCIATIONS", defaults.Associations), Get("UPLOADERS", defaults.Uploaders),
            Get("SEED_STUDIES", defaults.SeedStudies), Get("PIXEL_BYTES", defaults.PixelBytes), Get("INSTANCES_PER_STUDY", defaults.InstancesPerStudy));
    }
}

/// <summary>What a load run measured.</summary>
public sealed record LoadReport(
    LoadSettings Settings,
    double Seconds,
    int StorescuAcknowledged,
    int RestAcknowledged,
    int NotAcknowledged,
    int AssociationsNotAccepted,
    IReadOnlyList<double> GridMilliseconds,
    int GridTimeouts,
    IReadOnlyList<string> Missing)
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        // Nearest rank (no interpolation): the value at or below which p of the samples lie.
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    public override string ToString() =>
        $"load {Settings.Associations} storescu associations + {Settings.Uploaders} REST uploaders for {Seconds:0.0} s " +
        $"({Settings.PixelBytes / 1024} KB instances, {Settings.InstancesPerStudy} per study, {Settings.SeedStudies} studies before): " +
        $"{StorescuAcknowledged} C-STOREs + {RestAcknowledged} REST uploads acknowledged ({(StorescuAcknowledged + RestAcknowledged) / Seconds:0} instances/s), " +
        $"{NotAcknowledged} not acknowledged, {AssociationsNotAccepted} associations not accepted; " +
        $"studies grid, {GridMilliseconds.Count} pages: p50 {Percentile(GridMilliseconds, 0.5):0} ms, p95 {Percentile(GridMilliseconds, 0.95):0} ms, " +
        $"max {(GridMilliseconds.Count > 0 ? GridMilliseconds.Max() : double.NaN):0} ms, {GridTimeouts} pages not shown within 30 s; " +
        $"{Missing.Count} acknowledged instances missing afterwards";
}

/// <summary>
/// Storescu associations and REST uploaders storing new instances as fast as the server takes them, while Debian's
/// chromium pages through the studies grid; afterwards every acknowledged instance is looked for. Used by the suite's
/// short test and by benchmarks/load-benchmark.sh.
/// </summary>
public static class LoadRun
{
    public const string ServerAet = "LOADWEB", ScuAet = "LOADSCU";

    public static string ServerConfig(int dicomPort) => $$"""
        , "DicomAet": "{{ServerAet}}", "DicomPort": {{dicomPort}},
        "DicomModalities": { "loadscu": { "AET": "{{ScuAet}}", "Host": "127.0.0.1", "Port": 1 } }
        """;

    public static async Task<LoadReport> RunAsync(ServerProcess server, int dicomPort, LoadSettings settings, string workFolder, Action<string> log)
    {
        var run = Random.Shared.Next(); // distinct UIDs for every run, even into the same server
        using var client = server.CreateRestClient();
        await SeedAsync(client, settings, run);
        log($"{settings.SeedStudies} studies stored before the load");

        await using var chromium = await Chromium.LaunchAsync();
        var page = await OpenStudiesAsync(chromium, server);

        var acknowledged = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        int storescuAcks = 0, restAcks = 0, notAcknowledged = 0, notAccepted = 0;
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var senders = new List<Task>();
        for (var a = 0; a < settings.Associations; a++)
        {
            var association = a;
            var folder = Directory.CreateDirectory(Path.Combine(workFolder, $"scu-{a}")).FullName;
            senders.Add(Task.Run(async () =>
            {
                for (var batch = 0; !stop.IsCancellationRequested; batch++)
                {
                    // One association per study, as a modality sends one. Each study has a description of its own, as
                    // real ones differ: the grid's timing tells pages apart by their first row.
                    var instances = GeneratedInstances.Series($"LOAD-{association}", $"2.25.{run}.1.{association}.{batch}", settings.InstancesPerStudy,
                        settings.PixelBytes, "20260301", $"LOAD SCU {association} #{batch}");
                    var byPath = new Dictionary<string, GeneratedInstance>();
                    for (var k = 0; k < instances.Count; k++)
                    {
                        var path = Path.Combine(folder, $"{batch}-{k}.dcm");
                        await File.WriteAllBytesAsync(path, instances[k].Bytes);
                        byPath[path] = instances[k];
                    }
                    var sent = await StorescuSender.SendAsync(ScuAet, ServerAet, dicomPort, byPath.Keys);
                    foreach (var path in sent.Acknowledged) acknowledged[byPath[path].Id] = 0;
                    Interlocked.Add(ref storescuAcks, sent.Acknowledged.Count);
                    Interlocked.Add(ref notAcknowledged, instances.Count - sent.Acknowledged.Count);
                    if (sent.NotAccepted) Interlocked.Increment(ref notAccepted);
                    foreach (var path in byPath.Keys) File.Delete(path);
                }
            }));
        }
        for (var u = 0; u < settings.Uploaders; u++)
        {
            var uploader = u;
            senders.Add(Task.Run(async () =>
            {
                for (var k = 0; !stop.IsCancellationRequested; k++)
                {
                    var study = k / settings.InstancesPerStudy;
                    var root = $"2.25.{run}.2.{uploader}.{study}";
                    var i = GeneratedInstances.Ct($"LOAD-REST-{uploader}", root + ".1", root + ".2", $"{root}.3.{k}", k, settings.PixelBytes, "20260302", $"LOAD REST {uploader} #{study}");
                    using var r = await client.PostAsync("/instances", new ByteArrayContent(i.Bytes));
                    if (r.StatusCode == HttpStatusCode.OK && JsonNode.Parse(await r.Content.ReadAsStringAsync())!["ID"]!.GetValue<string>() == i.Id)
                    {
                        acknowledged[i.Id] = 0;
                        Interlocked.Increment(ref restAcks);
                    }
                    else Interlocked.Increment(ref notAcknowledged);
                }
            }));
        }

        var (grid, timeouts) = await PageGridAsync(page, TimeSpan.FromSeconds(settings.Seconds));
        await stop.CancelAsync();
        await Task.WhenAll(senders); // each finishes the study (association) or upload it was in
        var seconds = clock.Elapsed.TotalSeconds;

        // Every acknowledged instance, asked of the server one by one would take minutes at this count: its full list.
        var present = Rest.Ids(await Rest.GetJsonAsync(client, "/instances")).ToHashSet(StringComparer.Ordinal);
        var missing = acknowledged.Keys.Where(id => !present.Contains(id)).Order(StringComparer.Ordinal).ToList();
        return new LoadReport(settings, seconds, storescuAcks, restAcks, notAcknowledged, notAccepted, grid, timeouts, missing);
    }

    private static async Task SeedAsync(HttpClient client, LoadSettings settings, int run)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) is var s && s < settings.SeedStudies)
            {
                var root = $"2.25.{run}.0.{s}";
                var date = new DateOnly(2020, 1, 1).AddDays(s).ToString("yyyyMMdd", CultureInfo.InvariantCulture);
                var i = GeneratedInstances.Ct($"SEED-{s % 97}", root + ".1", root + ".2", root + ".3", 1, 4096, date, $"SEED {s}");
                using var r = await client.PostAsync("/instances", new ByteArrayContent(i.Bytes));
                if (r.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"seeding answered {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
            }
        })));
    }

    private static async Task<IPage> OpenStudiesAsync(Chromium chromium, ServerProcess server)
    {
        var page = await chromium.SignInAsync(server, "admin", ServerProcess.AdminPassword);
        await page.GotoAsync($"https://localhost:{server.HttpsPort}/ui/studies");
        // Interactive (the circuit is connected) and the first page of rows is in.
        await page.WaitForSelectorAsync("[data-testid=interactive]", new() { State = WaitForSelectorState.Attached, Timeout = 60_000 });
        await page.WaitForSelectorAsync("[data-testid=studies-grid] tbody tr td", new() { Timeout = 60_000 });
        return page;
    }

    /// <summary>
    /// Clicks "next page" (or "first page" on the last one) again and again for <paramref name="duration"/>, each time
    /// measuring in the page, with the page's own clock, from the click to the frame after the new rows are in the
    /// DOM (the pager's range has moved and the first row changed). Returns the times and the pages never shown.
    /// </summary>
    private static async Task<(List<double> Times, int Timeouts)> PageGridAsync(IPage page, TimeSpan duration)
    {
        const string script = """
            async () => {
              const grid = document.querySelector('[data-testid=studies-grid]');
              const caption = () => [...grid.querySelectorAll('.mud-table-pagination-caption')].map(e => e.textContent).join(' ');
              const range = () => (caption().match(/(\d+)\s*-\s*(\d+)/) || [''])[0];
              const firstRow = () => grid.querySelector('tbody tr')?.textContent ?? '';
              const next = grid.querySelector('.mud-table-pagination-actions button:nth-last-child(2)');
              const first = grid.querySelector('.mud-table-pagination-actions button:first-child');
              if (!next || !first) return -2;
              const button = next.disabled ? first : next;
              const [rangeBefore, rowBefore] = [range(), firstRow()];
              const t0 = performance.now();
              button.click();
              while (performance.now() - t0 < 30000) {
                await new Promise(r => requestAnimationFrame(r));
                if (range() !== rangeBefore && firstRow() !== rowBefore && !grid.querySelector('.mud-table-loading-progress')) {
                  // The rows are in the DOM: the frame that paints them is the next one.
                  await new Promise(r => requestAnimationFrame(r));
                  return performance.now() - t0;
                }
              }
              return -1;
            }
            """;
        var times = new List<double>();
        var timeouts = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            var ms = await page.EvaluateAsync<double>(script);
            if (ms == -2) throw new InvalidOperationException("no pager buttons in the studies grid:\n" + await page.InnerHTMLAsync("[data-testid=studies-grid]"));
            if (ms < 0) timeouts++;
            else times.Add(ms);
        }
        return (times, timeouts);
    }
}
