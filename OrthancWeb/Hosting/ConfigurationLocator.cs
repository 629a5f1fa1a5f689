namespace OrthancWeb.Hosting;

/// <summary>
/// Finds the one configuration file an admin edits. Several servers can run side by side on one machine, each with
/// its own file: <c>--config path</c> (or ORTHANCWEB_CONFIG) names it; otherwise appsettings.json in the working
/// folder, else the one at the root of the source tree (next to OrthancWeb.sln) so that
/// <c>dotnet run --project OrthancWeb</c> works from anywhere in the clone.
/// </summary>
public static class ConfigurationLocator
{
    public const string FileName = "appsettings.json";

    public static string? Find(string[] args, string currentDirectory, string baseDirectory, string? environmentValue)
    {
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] is "--config" or "-c")
                return Path.GetFullPath(args[i + 1], currentDirectory);
        }
        if (!string.IsNullOrWhiteSpace(environmentValue))
            return Path.GetFullPath(environmentValue, currentDirectory);

        var local = Path.Combine(currentDirectory, FileName);
        if (File.Exists(local))
            return local;

        foreach (var start in new[] { currentDirectory, baseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "OrthancWeb.sln")) && File.Exists(Path.Combine(dir.FullName, FileName)))
                    return Path.Combine(dir.FullName, FileName);
            }
        }
        return null;
    }

    /// <summary>Arguments with the --config pair removed, so the remaining ones reach ASP.NET's command-line provider.</summary>
    public static string[] StripConfigArgument(string[] args)
    {
        var rest = new List<string>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "--config" or "-c" && i + 1 < args.Length) { i++; continue; }
            rest.Add(args[i]);
        }
        return rest.ToArray();
    }
}
