using System.Text.Json;
using OrthancWeb.Hosting;
using OrthancWeb.Storage;

namespace OrthancWeb.Backup;

/// <summary>
/// The command line: <c>OrthancWeb backup --to DIR</c> writes a backup of the data folder the configuration names (the
/// server may be running on it: the backup is online); <c>OrthancWeb restore --from DIR [--data DIR]</c> restores one
/// into an empty data folder (the configured one unless <c>--data</c> names another; the stored files into the
/// configured StorageDirectory, if any, unless <c>--storage</c> names another). A backup of an index on PostgreSQL is
/// restored into an empty database: <c>--index-connection</c> names it, else the configuration's IndexConnectionString
/// (its password is given to pg_dump and pg_restore through PGPASSWORD, never on their command lines; a password in
/// <c>--index-connection</c> is on this command's own, so the configuration, or OrthancWeb__IndexConnectionString in
/// the environment, is the place for one). <c>--config FILE</c> chooses the
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
            await Console.Error.WriteLineAsync("usage: OrthancWeb backup --to DIR [--config FILE]\n" +
                "       OrthancWeb restore --from DIR [--data DIR] [--storage DIR] [--index-connection NPGSQL-CONNECTION-STRING] [--config FILE]");
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
                if (manifest.MissingFiles.Count > 0)
                    await Console.Error.WriteLineAsync($"{manifest.MissingFiles.Count} stored files were deleted by the running server before they " +
                        "were copied (listed in MissingFiles; the command line cannot hold its deletions back, POST /tools/backup and the Users page's button do)");
            }
            else
            {
                var data = Option(args, "--data") is { } d ? Path.GetFullPath(d) : Path.GetFullPath(server.DataDirectory, configFolder);
                var storage = Option(args, "--storage") is { } s ? Path.GetFullPath(s)
                    : server.StorageDirectory is { Length: > 0 } configured ? Path.GetFullPath(configured, configFolder) : null;
                // The target database: named on the command line, else the configuration's when it puts the index on PostgreSQL.
                var index = Option(args, "--index-connection")
                    ?? (store.IndexProvider == Index.IndexDatabase.PostgreSql ? store.IndexConnectionString : null);
                var outcome = await new BackupRestore(logging.CreateLogger<BackupRestore>())
                    .RestoreAsync(from!, new DataPaths(data, storage), index, CancellationToken.None);
                var into = index is null ? data : $"{data} (index: database '{new Npgsql.NpgsqlConnectionStringBuilder(index).Database}')";
                Console.WriteLine($"Restored {outcome.Manifest.CountInstances} instances ({outcome.Files} files, {outcome.Bytes} bytes, checked) into {into} in {outcome.Seconds} s");
            }
            return 0;
        }
        catch (Exception ex) when (ex is BackupException or IOException or UnauthorizedAccessException or JsonException or ArgumentException)
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
