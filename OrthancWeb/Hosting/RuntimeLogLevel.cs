using Microsoft.Extensions.Configuration.Memory;

namespace OrthancWeb.Hosting;

/// <summary>
/// Orthanc's log levels ("default", "verbose", "trace") for the server's own categories, changed at run time by REST
/// /tools/log-level until the server stops: a configuration layer above the file, reloaded so that the loggers see
/// it at once (the file's own level is what "default" returns to).
/// </summary>
public sealed class RuntimeLogLevel
{
    private const string Key = "Logging:LogLevel:OrthancWeb";
    private static readonly Dictionary<string, string> Levels = new(StringComparer.OrdinalIgnoreCase)
    {
        ["verbose"] = "Debug",
        ["trace"] = "Trace",
    };

    private readonly IConfigurationRoot _root;
    private readonly MemoryConfigurationProvider _layer;
    private readonly string? _configured;
    private readonly Lock _gate = new();

    public RuntimeLogLevel(IConfigurationRoot root)
    {
        _root = root;
        _configured = root[Key];
        _layer = root.Providers.OfType<MemoryConfigurationProvider>().LastOrDefault()
            ?? throw new InvalidOperationException("The run-time configuration layer is missing: AddServerConfiguration adds it");
    }

    public string Current { get; private set; } = "default";

    public static IEnumerable<string> Names => ["default", "verbose", "trace"];

    public bool TrySet(string name)
    {
        name = name.Trim().ToLowerInvariant();
        if (name != "default" && !Levels.ContainsKey(name)) return false;
        lock (_gate)
        {
            _layer.Set(Key, name == "default" ? _configured ?? "Information" : Levels[name]);
            _root.Reload();
            Current = name;
        }
        return true;
    }
}
