using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

/// <summary>Median latency of /instances/{id}/preview and /rendered?width=256 for a 512x512 16-bit CT, ours and orthanc's.</summary>
static class RenderBenchmark
{
    private const string Password = "Bench-Pa55word";

    public static async Task RunAsync(string? folder)
    {
        folder ??= HeaderParse.Generate("orthancweb-bench-ct", "1", "1", "2", "25");
        var file = Directory.GetFiles(folder, "*.dcm").Order().First();
        Console.WriteLine($"render benchmark: {Path.GetFileName(file)} ({new FileInfo(file).Length / 1024} KB), median of 50 warm requests, no HTTP caching");
        var work = Directory.CreateTempSubdirectory("orthancweb-render-bench-").FullName;
        try
        {
            var ours = await Measure("OrthancWeb", file, () => StartOurs(Path.Combine(work, "ours")));
            var theirs = await Measure("orthanc", file, () => StartOrthanc(Path.Combine(work, "orthanc")));
            foreach (var (name, ms) in ours)
            {
                var o = theirs.First(t => t.Name == name).Ms;
                Console.WriteLine($"{name}: OrthancWeb {ms:N2} ms, orthanc {o:N2} ms, ratio {o / ms:N2}x (target: <= 5 ms, well under orthanc)");
            }
        }
        finally { Directory.Delete(work, true); }
    }

    private static async Task<List<(string Name, double Ms)>> Measure(string server, string file, Func<Task<(Process P, HttpClient C)>> start)
    {
        var (process, client) = await start();
        try
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
        finally
        {
            process.Kill(true);
            await process.WaitForExitAsync();
            client.Dispose();
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task<(Process, HttpClient)> Launch(ProcessStartInfo psi, int port, bool auth)
    {
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        if (auth) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + Password)));
        for (var i = 0; i < 300; i++)
        {
            try { if ((await client.GetAsync("/system")).IsSuccessStatusCode) return (p, client); } catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException("server did not start");
    }

    private static Task<(Process, HttpClient)> StartOurs(string dir)
    {
        Directory.CreateDirectory(dir);
        var dll = HeaderParse.FindUp("OrthancWeb/bin/Release/net10.0/OrthancWeb.dll") ?? throw new FileNotFoundException("build first: dotnet build -c Release OrthancWeb");
        var port = FreePort();
        File.WriteAllText(Path.Combine(dir, "appsettings.json"),
            $$"""{ "OrthancWeb": { "HttpsPort": {{FreePort()}}, "HttpPort": {{port}}, "DataDirectory": "data", "RemoteAccessAllowed": false, "DicomServerEnabled": false } }""");
        var psi = new ProcessStartInfo("dotnet", [dll, "--config", Path.Combine(dir, "appsettings.json")]);
        psi.Environment["Security__AdminPassword"] = Password;
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        return Launch(psi, port, auth: true);
    }

    private static Task<(Process, HttpClient)> StartOrthanc(string dir)
    {
        Directory.CreateDirectory(dir);
        var port = FreePort();
        var config = Path.Combine(dir, "orthanc.json");
        File.WriteAllText(config, $$"""
            { "Name": "bench", "StorageDirectory": "{{dir}}/storage", "IndexDirectory": "{{dir}}/index", "HttpPort": {{port}},
              "DicomPort": {{FreePort()}}, "RemoteAccessAllowed": false, "AuthenticationEnabled": false, "Plugins": [] }
            """);
        return Launch(new ProcessStartInfo("/usr/sbin/Orthanc", [config]), port, auth: false);
    }
}
