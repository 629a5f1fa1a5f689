using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Tracing;

namespace OrthancWeb.Hosting;

/// <summary>
/// Where a start's time goes (issue 21): with <c>ORTHANCWEB_STARTUP_TRACE=1</c> each phase of the start prints one line
/// to standard error: wall time since the process started, CPU time, methods the JIT compiled and its time, and the
/// memory used, so that a change to the start is measured rather than guessed. With <c>ORTHANCWEB_STARTUP_TRACE=jit</c>
/// it also lists, after the first answer, the methods the JIT compiled until then by namespace (what ReadyToRun did not
/// cover). Off otherwise (one flag test per mark).
/// </summary>
public static class StartupTrace
{
    private static readonly string? Setting = Environment.GetEnvironmentVariable("ORTHANCWEB_STARTUP_TRACE");

    public static bool Enabled { get; } = Setting is "1" or "jit";

    private static readonly JitListener? Jit = Setting == "jit" ? new JitListener() : null;

    private static int firstRequestSeen;

    public static void Mark(string phase)
    {
        if (!Enabled) return;
        using var process = Process.GetCurrentProcess();
        var wall = DateTime.Now - process.StartTime;
        Console.Error.WriteLine(
            $"startup-trace {phase,-28} wall {wall.TotalMilliseconds,6:F0} ms  cpu {process.TotalProcessorTime.TotalMilliseconds,6:F0} ms  " +
            $"jit {System.Runtime.JitInfo.GetCompiledMethodCount(),6} methods {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds,6:F0} ms  " +
            $"gc heap {GC.GetTotalMemory(false) / 1048576,4} MB  rss {process.WorkingSet64 / 1048576,4} MB  assemblies {AppDomain.CurrentDomain.GetAssemblies().Length}");
    }

    /// <summary>Marks the first request's arrival and its answer, once.</summary>
    public static IApplicationBuilder UseStartupTrace(this IApplicationBuilder app)
    {
        if (!Enabled) return app;
        app.ApplicationServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() => Mark("host started"));
        return app.Use(async (context, next) =>
        {
            var first = Interlocked.Exchange(ref firstRequestSeen, 1) == 0;
            if (first) Mark("first request in");
            await next(context);
            if (first)
            {
                Mark("first request answered");
                Jit?.Report();
            }
        });
    }

    /// <summary>The runtime's MethodJittingStarted events (JIT keyword 0x10, verbose), counted by namespace.</summary>
    private sealed class JitListener : EventListener
    {
        private readonly ConcurrentQueue<string> methods = new();

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
                EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x10);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName != "MethodJittingStarted_V1" || e.Payload is null) return;
            var type = e.PayloadNames!.IndexOf("MethodNamespace") is var t and >= 0 ? e.Payload[t]?.ToString() : "?";
            var name = e.PayloadNames.IndexOf("MethodName") is var n and >= 0 ? e.Payload[n]?.ToString() : "?";
            methods.Enqueue($"{type}::{name}");
        }

        public void Report()
        {
            var all = methods.ToArray();
            File.WriteAllLines(Path.Combine(Path.GetTempPath(), $"orthancweb-jit-{Environment.ProcessId}.txt"), all);
            foreach (var group in all.GroupBy(Namespace).OrderByDescending(g => g.Count()).Take(40))
                Console.Error.WriteLine($"startup-trace jit {group.Count(),6} {group.Key}");
        }

        private static string Namespace(string method)
        {
            var type = method[..method.IndexOf("::", StringComparison.Ordinal)];
            var generic = type.IndexOf('[', StringComparison.Ordinal);
            if (generic >= 0) type = type[..generic];
            var parts = type.Split('.');
            return string.Join('.', parts.Take(Math.Min(3, Math.Max(1, parts.Length - 1))));
        }
    }
}
