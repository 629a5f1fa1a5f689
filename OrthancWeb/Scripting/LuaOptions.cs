using Microsoft.Extensions.Options;
using OrthancWeb.Hosting;

namespace OrthancWeb.Scripting;

/// <summary>Orthanc's Lua settings, read from the server's section of appsettings.json.</summary>
public sealed class LuaOptions
{
    /// <summary>Scripts run once at start-up, in order, in the one Lua state (paths relative to the configuration file).</summary>
    public List<string> LuaScripts { get; set; } = [];

    /// <summary>
    /// Whether POST /tools/execute-script may run code sent over REST (Orthanc 1.10: off by default; when off the route
    /// answers 403 with an empty body, as Orthanc does).
    /// </summary>
    public bool ExecuteLuaEnabled { get; set; }

    /// <summary>Seconds between two calls of the scripts' OnHeartBeat() (Orthanc 1.11's setting; 0, the default, never calls it).</summary>
    public int LuaHeartBeatPeriod { get; set; }
}

/// <summary>
/// A missing script or one that does not compile stops the start, naming the file and the line (Orthanc refuses to
/// start too): a server that silently ran without its routing script would lose the studies it should have sent.
/// </summary>
public sealed class LuaOptionsValidation(DataPaths paths) : IValidateOptions<LuaOptions>
{
    public ValidateOptionsResult Validate(string? name, LuaOptions options)
    {
        var failures = new List<string>();
        if (options.LuaHeartBeatPeriod < 0) failures.Add($"LuaHeartBeatPeriod: {options.LuaHeartBeatPeriod} is negative (seconds; 0 turns OnHeartBeat off)");
        foreach (var script in options.LuaScripts)
        {
            var path = LuaScriptFiles.Resolve(paths, script);
            if (!File.Exists(path))
            {
                failures.Add($"LuaScripts: {script} not found (looked for {path})");
                continue;
            }
            if (LuaState.SyntaxError(File.ReadAllText(path), Path.GetFileName(path)) is { } error)
                failures.Add($"LuaScripts: {path} does not compile: {error}");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

public static class LuaScriptFiles
{
    /// <summary>A script's path as configured: absolute, or relative to the folder of the configuration file (as Orthanc reads it).</summary>
    public static string Resolve(DataPaths paths, string script) =>
        Path.GetFullPath(Path.IsPathRooted(script) ? script : Path.Combine(paths.ConfigurationFolder, script));
}
