using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrthancWeb.Audit;
using OrthancWeb.Hosting;

/// <summary>
/// The audit trail's own cost, as the server registers it (AddAudit, audit.db in a temp data folder, group commit):
/// what <see cref="IAuditTrail.Record"/> costs the calling thread (a C-STORE handler's), and how many entries per
/// second the writer seals and commits. Compare the per-event cost with a C-STORE's (about 1-3 ms on this machine at
/// 400-900 instances/s) to see the share of ingest the trail takes.
///   dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- audit [events]
/// </summary>
static class AuditBenchmark
{
    public static async Task RunAsync(string? countArg)
    {
        var count = int.Parse(countArg ?? "200000", CultureInfo.InvariantCulture);
        var folder = Directory.CreateTempSubdirectory("ow-audit-bench-").FullName;
        try
        {
            var paths = new DataPaths(folder);
            paths.CreateAll();
            var services = new ServiceCollection();
            services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning).AddConsole());
            services.AddSingleton(paths);
            services.AddSingleton(TimeProvider.System);
            services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Audit:AuditQueueCapacity"] = (count * 2).ToString(CultureInfo.InvariantCulture),
            }).Build());
            services.AddAudit();
            await using var provider = services.BuildServiceProvider();
            var trail = provider.GetRequiredService<IAuditTrail>();
            var writer = provider.GetRequiredService<AuditWriter>();
            var queries = provider.GetRequiredService<AuditQueries>();
            await writer.StartAsync(CancellationToken.None);

            // Warm-up: JIT, EF model, the database file.
            for (var i = 0; i < 5000; i++) trail.Record(Event(i));
            await writer.FlushAsync();

            Console.WriteLine($"audit: {count} events, audit.db in {folder}; CPU time (the machine may be shared: wall time is not the measure)");
            using (AuditActor.Enter(new AuditActor("STORESCU", "127.0.0.1", AuditSources.Dicom)))
            {
                var process = Process.GetCurrentProcess();
                // 1. The caller's cost alone: Record into a trail of its own that no writer drains.
                var alone = new AuditTrail(provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<AuditOptions>>(), TimeProvider.System,
                    provider.GetRequiredService<ILogger<AuditTrail>>());
                for (var i = 0; i < 10000; i++) alone.Record(Event(i));
                process.Refresh();
                var cpu0 = process.TotalProcessorTime;
                for (var i = 0; i < count; i++) alone.Record(Event(i));
                process.Refresh();
                var recordCpu = process.TotalProcessorTime - cpu0;
                Console.WriteLine($"  Record on the caller thread: {recordCpu.TotalNanoseconds / count:F0} ns CPU/event");

                // 2. The writer: a burst recorded, then drained, sealed and committed in batches.
                var written0 = writer.Written;
                process.Refresh();
                cpu0 = process.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < count; i++) trail.Record(Event(i));
                await writer.FlushAsync();
                process.Refresh();
                var cpu = process.TotalProcessorTime - cpu0;
                var written = writer.Written - written0;
                Console.WriteLine($"  writer: {written} entries in {sw.Elapsed.TotalSeconds:F2} s wall = {written / sw.Elapsed.TotalSeconds:N0} entries/s; " +
                    $"{cpu.TotalMicroseconds / written:F1} us CPU per entry, recording included");
            }
            var verify = Stopwatch.StartNew();
            var result = await queries.VerifyAsync();
            Console.WriteLine($"  verify: {result.Summary} in {verify.Elapsed.TotalSeconds:F2} s ({result.Checked / verify.Elapsed.TotalSeconds:N0} entries/s)");
            Console.WriteLine($"  audit.db: {new FileInfo(AuditRegistration.DatabaseFile(paths)).Length / 1024 / 1024} MB for {result.Checked} entries");
            await writer.StopAsync(CancellationToken.None);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }

    private static AuditEvent Event(int i) => new(AuditActions.CStore, AuditOutcome.Success)
    {
        PatientId = "PAT" + (i % 100).ToString(CultureInfo.InvariantCulture),
        ResourceLevel = "Instance",
        ResourceId = "0b1c2d3e-4f5a6b7c-8d9e0f1a-2b3c4d5e-6f7a8b9c",
        StudyInstanceUid = "1.2.826.0.1.3680043.8.498.12345678901234567890",
        Details = "CT Image Storage 1.2.840.10008.5.1.4.1.1.2",
    };
}
