using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

/// <summary>
/// Instances per second re-encoded (to JPEG-LS lossless, or the syntax BENCH_TRANSCODE_SYNTAX names) by POST /instances/{id}/modify {"Transcode": ...} (the form
/// both servers have: Debian's orthanc 1.10 has no /file?transcode), two requests in flight, on N files of the CT set;
/// and how much smaller the encoded files are than the stored ones.
/// </summary>
static class TranscodeBenchmark
{
    private static readonly string Target = Environment.GetEnvironmentVariable("BENCH_TRANSCODE_SYNTAX") is { Length: > 0 } t ? t : "1.2.840.10008.1.2.4.80";

    public static async Task RunAsync(string? arg)
    {
        var count = int.TryParse(Environment.GetEnvironmentVariable("BENCH_TRANSCODE_FILES"), out var n) && n > 0 ? n : 200;
        var folder = arg ?? (Directory.Exists("/tmp/orthancweb-bench-2000") ? "/tmp/orthancweb-bench-2000" : HeaderParse.Generate("orthancweb-bench-ct", "1", "1", "2", "25"));
        var files = Directory.GetFiles(folder, "*.dcm").Order(StringComparer.Ordinal).Take(count).ToArray();
        Console.WriteLine($"transcode benchmark: {files.Length} files of {folder} to {Target}, 2 requests in flight");
        var work = BenchServers.NewWorkFolder("orthancweb-transcode-bench-");
        try
        {
            var rounds = await BenchServers.AlternatingRoundsAsync(
                () => MeasureAsync(files, () => BenchServers.StartOursAsync(Path.Combine(work, "ours-" + Guid.NewGuid().ToString("N")[..6]))),
                () => MeasureAsync(files, () => BenchServers.StartOrthancAsync(Path.Combine(work, "orthanc-" + Guid.NewGuid().ToString("N")[..6]))));
            if (rounds is { } r) BenchServers.PrintRates("transcode to " + Target, r.Ours, r.Theirs, target: 1);
        }
        finally { Directory.Delete(work, true); }
    }

    private static async Task<double> MeasureAsync(string[] files, Func<Task<BenchServer>> start)
    {
        await using var server = await start();
        var ids = new List<string>();
        long stored = 0;
        foreach (var f in files)
        {
            var bytes = await File.ReadAllBytesAsync(f);
            stored += bytes.Length;
            using var up = await server.Http.PostAsync("/instances", new ByteArrayContent(bytes));
            var text = await up.Content.ReadAsStringAsync();
            if (!up.IsSuccessStatusCode) throw new InvalidOperationException($"{server.Name} upload: {(int)up.StatusCode} {text}");
            ids.Add(JsonNode.Parse(text)!["ID"]!.GetValue<string>());
        }
        // One warm-up request (JIT, codec library load) outside the clock.
        await TranscodeAsync(server, ids[0]);
        long encoded = 0;
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (id, _) =>
            Interlocked.Add(ref encoded, await TranscodeAsync(server, id)));
        clock.Stop();
        var rate = ids.Count / clock.Elapsed.TotalSeconds;
        Console.WriteLine($"[{server.Name}] {rate:N1} instances/s; {stored / 1024 / 1024.0:N1} MB stored -> {encoded / 1024 / 1024.0:N1} MB as {Target} (saving ratio {stored / (double)encoded:N2}x)");
        return rate;
    }

    private static async Task<long> TranscodeAsync(BenchServer server, string id)
    {
        using var content = new StringContent($$"""{ "Transcode": "{{Target}}" }""", Encoding.UTF8, "application/json");
        using var response = await server.Http.PostAsync($"/instances/{id}/modify", content);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{server.Name} modify: {(int)response.StatusCode} {Encoding.UTF8.GetString(bytes)}");
        // The answer is the DICOM file in the new syntax: its Transfer Syntax UID must say so.
        if (bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(Target)) < 0)
            throw new InvalidOperationException($"{server.Name} answered a file not in {Target}");
        return bytes.Length;
    }
}
