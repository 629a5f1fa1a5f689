using System.Text.Json;
using OrthancWeb.Hosting;
using OrthancWeb.Storage;

namespace OrthancWeb.Backup;

/// <summary>
/// The command line: <c>OrthancWeb backup --to DIR</c> writes a backup of the data folder the configuration names (the
/// server may be running on it: the backup is online); <c>OrthancWeb restore --from DIR [--data DIR]</c> restores one
/// into an empty data folder (the configured one unless <c>--data</c> names another). <c>--config FILE</c> chooses the
/// configuration as for the server. Exit code 0 on success, 1 when refused or failed (the reason on stderr), 2 for a
/// malformed command.
/// </summary>
public static class BackupCommand
{
    public static bool Matches(string[] args) => args.Length > 0 && args[0] is "backup" or "restore";

    public static async Task<int> RunAsync(string[] args, string? configFile)
    {
        var verb = args[0];
        var to = Option(args, "--to");
        var from = Option(args, "--from");
        if ((verb == "backup" && to is null) || (verb == "restore" && from is null))
        {
            await Console.Error.WriteLineAsync("usage: OrthancWeb backup --to DIR [--config FILE]\n       OrthancWeb restore --from DIR [--data DIR] [--config FILE]");
            return 2;
        }
        var configuration = new ConfigurationBuilder();
        if (configFile is not null) configuration.AddJsonFile(configFile, optional: false);
        var settings = configuration.AddEnvironmentVariables().Build().GetSection(ServerOptions.Section);
        var server = settings.Get<ServerOptions>() ?? new ServerOptions();
        var store = settings.Get<StorageOptions>() ?? new StorageOptions();
        var configFolder = configFile is null ? Environment.CurrentDirectory : Path.GetDirectoryName(configFile)!;
        using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));
        // Backups and restored data folders hold what the data folder holds: as private as it (see PrivateFiles).
        PrivateFiles.RestrictNewFiles();
        try
        {
            if (verb == "backup")
            {
                var paths = new DataPaths(Path.GetFullPath(server.DataDirectory, configFolder),
                    server.StorageDirectory is { Length: > 0 } storage ? Path.GetFullPath(storage, configFolder) : null);
                var service = new BackupService(paths, store, TimeProvider.System, logging.CreateLogger<BackupService>());
                var manifest = await service.CreateAsync(Path.GetFullPath(to!), CancellationToken.None);
                Console.WriteLine(JsonSerializer.Serialize(manifest.Summary(), BackupManifest.Json));
            }
            else
            {
                var data = Option(args, "--data") is { } d ? Path.GetFullPath(d) : Path.GetFullPath(server.DataDirectory, configFolder);
                if (store.IndexProvider != Index.IndexDatabase.Sqlite)
                    throw new BackupNotSupportedException("The configuration puts the index on PostgreSQL: restore its pg_dump with pg_restore; this command restores SQLite backups");
                var outcome = await new BackupRestore(logging.CreateLogger<BackupRestore>()).RestoreAsync(from!, data, CancellationToken.None);
                Console.WriteLine($"Restored {outcome.Manifest.CountInstances} instances ({outcome.Files} files, {outcome.Bytes} bytes, checked) into {data} in {outcome.Seconds} s");
            }
            return 0;
        }
        catch (Exception ex) when (ex is BackupException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"{verb} failed: {ex.Message}");
            return 1;
        }
    }

    private static string? Option(string[] args, string name)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }
}
