using System.Diagnostics;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

/// <summary>
/// DICOMweb side by side with Debian's orthanc and its DICOMweb plugin (1.7), one run: series metadata of a
/// 500-instance series (orthanc in its default configuration, which reads every file, and with SeriesMetadata set to
/// MainDicomTags, its fastest), a QIDO-RS study search over 2,000 instances, a frame and a rendered frame.
/// </summary>
static class DicomWebBenchmark
{
    private const int Runs = 30;

    /// <summary>
    /// Unmeasured requests first, on both servers alike: the figure is that of a server that has been serving, not of
    /// code run for the first time (ours compiles a method's optimized code after about 30 calls; orthanc is native).
    /// </summary>
    private const int WarmUp = 40;

    public static async Task RunAsync(string? folder)
    {
        folder ??= HeaderParse.Generate("orthancweb-bench-2000", "20", "2", "2", "25");
        var big = Environment.GetEnvironmentVariable("BENCH_SERIES500") ?? HeaderParse.Generate("orthancweb-bench-series500", "1", "1", "1", "500");
        var files = Directory.GetFiles(folder, "*.dcm").Order().ToArray();
        var series = Directory.GetFiles(big, "*.dcm").Order().ToArray();
        Console.WriteLine($"dicomweb benchmark: QIDO over {files.Length} instances, metadata of a {series.Length}-instance series; medians of warm requests");
        var work = BenchServers.NewWorkFolder("orthancweb-dicomweb-bench-");
        try
        {
            var results = new List<(string Server, string What, double Ms)>();
            var orthancDir = Path.Combine(work, "orthanc");
            // Both servers up at once and every measurement interleaved request by request (ours, orthanc, ours, ...):
            // on a shared 2-core machine a burst of other work then lands on both sides alike.
            await using (var ours = await BenchServers.StartOursAsync(Path.Combine(work, "ours")))
            await using (var orthanc = await BenchServers.StartOrthancAsync(orthancDir, ""))
            {
                var targets = new List<Target>();
                foreach (var server in new[] { ours, orthanc }) targets.Add(await UploadAsync(server, files, series, "/dicom-web"));
                results.AddRange(await MeasureAsync(targets));
            }
            // The same data, orthanc restarted with its fastest series metadata (main tags only, not the full attributes).
            await using (var fast = await BenchServers.StartOrthancAsync(orthancDir, """, "SeriesMetadata": "MainDicomTags", "StudiesMetadata": "MainDicomTags" """))
                results.AddRange((await MeasureAsync([await UploadAsync(fast, [], series, "/dicom-web", upload: false)], metadataOnly: true))
                    .Select(r => (r.Server + " (SeriesMetadata: MainDicomTags)", r.What, r.Ms)));

            Console.WriteLine();
            foreach (var what in results.Select(r => r.What).Distinct())
            {
                var ours = results.First(r => r.Server == "OrthancWeb" && r.What == what).Ms;
                foreach (var other in results.Where(r => r.Server != "OrthancWeb" && r.What == what))
                    Console.WriteLine($"{what}: OrthancWeb {ours:N1} ms, {other.Server} {other.Ms:N1} ms, ratio {other.Ms / ours:N1}x");
            }
        }
        finally { Directory.Delete(work, true); }
    }

    /// <summary>A server loaded with the data, and the UIDs of the 500-instance series.</summary>
    private sealed record Target(BenchServer Server, string Root, string Study, string Series, string Sop, int SeriesSize);

    private static async Task<Target> UploadAsync(BenchServer server, string[] files, string[] series, string root, bool upload = true)
    {
        if (upload)
            foreach (var f in files.Concat(series))
            {
                using var up = await server.Http.PostAsync("/instances", new ByteArrayContent(await File.ReadAllBytesAsync(f)));
                if (!up.IsSuccessStatusCode) throw new InvalidOperationException($"{server.Name}: upload {f}: {(int)up.StatusCode}");
            }
        var header = DicomFile.Open(series[0], new DicomReadOptions { StopBeforeTag = DicomTags.PixelData }).Dataset;
        return new Target(server, root, header.GetString(DicomTags.StudyInstanceUID)!, header.GetString(DicomTags.SeriesInstanceUID)!, header.GetString(DicomTags.SOPInstanceUID)!, series.Length);
    }

    private static async Task<List<(string Server, string What, double Ms)>> MeasureAsync(List<Target> targets, bool metadataOnly = false)
    {
        var result = new List<(string, string, double)>();

        async Task Median(string what, Func<Target, string> url, string accept, int runs = Runs)
        {
            var times = targets.ToDictionary(t => t, _ => new List<double>());
            for (var i = 0; i < runs + WarmUp; i++)
                foreach (var t in targets)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, url(t));
                    request.Headers.TryAddWithoutValidation("Accept", accept);
                    var clock = Stopwatch.StartNew();
                    using var response = await t.Server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                    var bytes = await response.Content.ReadAsByteArrayAsync();
                    clock.Stop();
                    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{t.Server.Name} {url(t)}: {(int)response.StatusCode}");
                    if (i >= WarmUp) times[t].Add(clock.Elapsed.TotalMilliseconds);
                    if (i == WarmUp) Console.WriteLine($"[{t.Server.Name}] {what}: {bytes.Length / 1024} KB");
                }
            foreach (var t in targets)
            {
                var median = BenchServers.Median(times[t]);
                Console.WriteLine($"[{t.Server.Name}] {what}: median {median:N1} ms");
                result.Add((t.Server.Name, what, median));
            }
        }

        await Median($"series metadata ({targets[0].SeriesSize} instances)", t => $"{t.Root}/studies/{t.Study}/series/{t.Series}/metadata", "application/dicom+json", 10);
        if (metadataOnly) return result;
        await Median("QIDO /studies (all)", t => $"{t.Root}/studies", "application/dicom+json");
        await Median("QIDO /studies?PatientName=wildcard", t => $"{t.Root}/studies?PatientName=*1*&includefield=StudyDescription", "application/dicom+json");
        await Median("QIDO /studies?StudyDate=range", t => $"{t.Root}/studies?StudyDate=19000101-20991231", "application/dicom+json");
        string Instance(Target t) => $"{t.Root}/studies/{t.Study}/series/{t.Series}/instances/{t.Sop}";
        await Median("frame 1 (uncompressed, 512x512x16)", t => $"{Instance(t)}/frames/1", "multipart/related; type=\"application/octet-stream\"");
        await Median("rendered frame (JPEG)", t => $"{Instance(t)}/frames/1/rendered", "image/jpeg");
        // The same picture on both: by default orthanc's DICOMweb plugin 1.7 renders the full range of the pixel values
        // (0..4000 here, mostly mid-grey noise of low contrast) and ignores the file's window, which we apply (40/400,
        // gen_dataset.py's): different pictures, 132 KB against 188 KB from either encoder.
        await Median("rendered frame (JPEG), the file's window asked of both", t => $"{Instance(t)}/frames/1/rendered?window=40,400,linear", "image/jpeg");
        return result;
    }
}
