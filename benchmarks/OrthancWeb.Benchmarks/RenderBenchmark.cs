using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

/// <summary>Median latency of /instances/{id}/preview and /rendered?width=256 for a 512x512 16-bit CT, ours and orthanc's.</summary>
static class RenderBenchmark
{

    public static async Task RunAsync(string? folder)
    {
        folder ??= HeaderParse.Generate("orthancweb-bench-ct", "1", "1", "2", "25");
        var file = Directory.GetFiles(folder, "*.dcm").Order().First();
        Console.WriteLine($"render benchmark: {Path.GetFileName(file)} ({new FileInfo(file).Length / 1024} KB), median of 50 warm requests, no HTTP caching");
        var work = BenchServers.NewWorkFolder("orthancweb-render-bench-");
        try
        {
            var ours = await Measure(file, () => BenchServers.StartOursAsync(Path.Combine(work, "ours")));
            var theirs = await Measure(file, () => BenchServers.StartOrthancAsync(Path.Combine(work, "orthanc")));
            foreach (var (name, ms) in ours)
            {
                var o = theirs.First(t => t.Name == name).Ms;
                Console.WriteLine($"{name}: OrthancWeb {ms:N2} ms, orthanc {o:N2} ms, ratio {o / ms:N2}x (target: <= 5 ms, well under orthanc)");
            }
        }
        finally { Directory.Delete(work, true); }
    }

    private static async Task<List<(string Name, double Ms)>> Measure(string file, Func<Task<BenchServer>> start)
    {
        await using var s = await start();
        var (server, client) = (s.Name, s.Http);
        {
            var up = await client.PostAsync("/instances", new ByteArrayContent(await File.ReadAllBytesAsync(file)));
            var id = JsonNode.Parse(await up.Content.ReadAsStringAsync())!["ID"]!.GetValue<string>();
            var result = new List<(string, double)>();
            foreach (var (name, url) in new[] { ("preview", $"/instances/{id}/preview"), ("rendered width=256", $"/instances/{id}/rendered?width=256") })
            {
                var times = new List<double>();
                for (var i = 0; i < 60; i++)
                {
                    var clock = Stopwatch.StartNew();
                    using var r = await client.GetAsync(url + (url.Contains('?') ? "&" : "?") + "nocache=" + i);
                    var bytes = await r.Content.ReadAsByteArrayAsync();
                    clock.Stop();
                    if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"{server} {url}: {(int)r.StatusCode}");
                    if (i >= 10) times.Add(clock.Elapsed.TotalMilliseconds);
                }
                times.Sort();
                var median = times[times.Count / 2];
                Console.WriteLine($"[{server}] {name}: median {median:N2} ms");
                result.Add((name, median));
            }
            return result;
        }
    }
}
