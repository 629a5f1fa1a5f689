using System.Diagnostics;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

// Speed figures for the hot paths, printed for humans and for the README. Run by hand, not by CI:
//   dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- header-parse [folder]
//   dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- store [folder]   (see benchmarks/store-benchmark.sh)
//   dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- grid [1000,10000,100000]
//   dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- generate-index Sqlite|PostgreSQL <file|connection string> [1000000]
//   dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- scale [10000,1000000] [postgres connection]   (see benchmarks/scale-benchmark.sh)
var command = args.FirstOrDefault() ?? "header-parse";
switch (command)
{
    case "header-parse":
        HeaderParse.Run(args.Skip(1).FirstOrDefault());
        break;
    case "store":
        await StoreBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    case "render":
        await RenderBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    case "dicom-store":
        await DicomStoreBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    case "archive":
        await ArchiveBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    case "audit":
        await AuditBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    case "audit-ingest":
        await AuditIngestBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    case "grid":
        await GridBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    case "dicomweb":
        await DicomWebBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    case "upload":
        await UploadBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    case "ohif":
        await OhifBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    case "generate-index":
        await ScaleBenchmark.GenerateAsync([.. args.Skip(1)]);
        break;
    case "scale":
        await ScaleBenchmark.RunAsync([.. args.Skip(1)]);
        break;
    case "transcode":
        await TranscodeBenchmark.RunAsync(args.Skip(1).FirstOrDefault());
        break;
    default:
        Console.Error.WriteLine($"unknown benchmark '{command}'; known: header-parse, store, dicom-store, render, archive, grid, audit, audit-ingest, upload, dicomweb, ohif, transcode, generate-index, scale");
        return 2;
}
return 0;

/// <summary>
/// Parses the header of 512x512 16-bit CT files (everything before Pixel Data) on one thread, as the ingest path
/// and the index rebuild do, and reports parses per second and bytes allocated per parse.
/// </summary>
static class HeaderParse
{
    public static void Run(string? folder)
    {
        folder ??= Generate();
        var files = Directory.GetFiles(folder, "*.dcm").Order().Take(200).ToArray();
        if (files.Length == 0) throw new InvalidOperationException($"no .dcm files in {folder}");
        var options = new DicomReadOptions { StopBeforeTag = DicomTags.PixelData };
        var inMemory = files.Select(File.ReadAllBytes).ToArray();
        Console.WriteLine($"header-parse: {files.Length} files from {folder}, {inMemory[0].Length / 1024} KB each, one thread");

        Measure("from file (open, read header, stop before PixelData)", files.Length, i =>
        {
            var f = DicomFile.Open(files[i % files.Length], options);
            return f.Dataset.Count;
        });
        Measure("from bytes already in memory (C-STORE / upload case)", files.Length, i =>
        {
            var f = DicomFile.Open(inMemory[i % inMemory.Length].AsMemory(), options);
            return f.Dataset.Count;
        });
        Measure("from bytes, plus reading the index tags as strings", files.Length, i =>
        {
            var ds = DicomFile.Open(inMemory[i % inMemory.Length].AsMemory(), options).Dataset;
            return (ds.GetString(DicomTags.PatientID)?.Length ?? 0) + (ds.GetString(DicomTags.StudyInstanceUID)?.Length ?? 0)
                + (ds.GetString(DicomTags.SeriesInstanceUID)?.Length ?? 0) + (ds.GetString(DicomTags.SOPInstanceUID)?.Length ?? 0)
                + (ds.GetString(DicomTags.PatientName)?.Length ?? 0) + (ds.GetString(DicomTags.StudyDate)?.Length ?? 0);
        });
        // What ingest adds per instance for DICOMweb: the instance's JSON row (PS3.18 F), deflated.
        Measure("from bytes, plus the DICOMweb JSON row built and deflated", files.Length, i =>
            OrthancWeb.Index.InstanceMetadataJson.Encode(DicomFile.Open(inMemory[i % inMemory.Length].AsMemory(), options)).Length);
    }

    private static void Measure(string label, int fileCount, Func<int, int> parse)
    {
        var sink = 0;
        for (var i = 0; i < 2000; i++) sink += parse(i); // warm-up: JIT tiers, file cache
        var iterations = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 3000)
        {
            for (var k = 0; k < 500; k++) sink += parse(iterations++);
        }
        clock.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var perSecond = iterations / clock.Elapsed.TotalSeconds;
        Console.WriteLine($"  {label}: {perSecond,10:N0} parses/s, {clock.Elapsed.TotalMicroseconds / iterations,7:N1} µs/parse, {allocated / iterations,8:N0} bytes allocated/parse  (target >= 20,000/s) [{sink % 10}]");
    }

    internal static string Generate() => Generate("orthancweb-bench-ct", "1", "1", "2", "25");

    internal static string Generate(string name, params string[] shape)
    {
        var dir = Path.Combine(Path.GetTempPath(), name);
        var expected = shape.Select(int.Parse).Aggregate(1, (a, b) => a * b);
        if (Directory.Exists(dir) && Directory.GetFiles(dir, "*.dcm").Length >= expected) return dir;
        var script = FindUp("shared/tools/gen_dataset.py") ?? throw new FileNotFoundException("../shared/tools/gen_dataset.py not found; pass a folder of DICOM files");
        var psi = new ProcessStartInfo("/usr/bin/python3", [script, dir, .. shape, "512"]) { UseShellExecute = false };
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException("gen_dataset.py failed (needs python3-pydicom and python3-numpy)");
        return dir;
    }

    internal static string? FindUp(string relative)
    {
        for (var d = new DirectoryInfo(Environment.CurrentDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, relative);
            if (File.Exists(candidate)) return candidate;
            candidate = Path.Combine(d.FullName, "..", relative);
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }
}
