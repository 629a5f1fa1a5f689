using System.Diagnostics;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OrthancWeb.Hosting;
using OrthancWeb.Storage;

namespace OrthancWeb.Backup;

/// <summary>
/// Restores a backup into an empty data folder, for a server to be started on it: the databases, the certificate and
/// the keys as they were, and every stored file the manifest lists, each checked against its checksum on the way; an
/// index on PostgreSQL with pg_restore into an empty database (<see cref="PostgresSnapshot"/>).
/// Never into a folder that holds anything, so that a backup is not mixed with another server's data (or this one's,
/// still running). The start-up check of the server started on it then finds index and files in agreement.
/// </summary>
public sealed partial class BackupRestore(ILogger<BackupRestore> logger)
{
    public sealed record Outcome(BackupManifest Manifest, int Files, long Bytes, double Seconds);

    /// <param name="target">The data folder and storage folder to restore into, both empty.</param>
    /// <param name="indexConnection">For a backup of an index on PostgreSQL, the empty database to restore it into
    /// (Npgsql connection string); null for a SQLite backup.</param>
    public async Task<Outcome> RestoreAsync(string from, DataPaths target, string? indexConnection, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var source = Path.GetFullPath(from);
        var manifestFile = Path.Combine(source, BackupManifest.FileName);
        if (!File.Exists(manifestFile))
            throw new BackupException($"{source} holds no {BackupManifest.FileName}: not a backup, or one that did not finish");
        BackupManifest manifest;
        await using (var stream = File.OpenRead(manifestFile))
            manifest = await JsonSerializer.DeserializeAsync<BackupManifest>(stream, BackupManifest.Json, ct)
                ?? throw new BackupException($"{manifestFile} is empty");
        if (manifest.Format is not (BackupManifest.SqliteFormat or BackupManifest.PostgreSqlFormat))
            throw new BackupException($"{manifestFile} has format {manifest.Format}, which this release does not know: restore it with the release that made it ({manifest.ServerVersion}) or a newer one");
        var postgreSql = manifest.Format == BackupManifest.PostgreSqlFormat;
        var dump = Path.Combine(source, PostgresSnapshot.DumpFileName);
        if (postgreSql && indexConnection is null)
            throw new BackupException("This backup's index is on PostgreSQL (index.pgdump): name the empty database to restore it into, with " +
                "--index-connection \"Host=...;Database=...;Username=...\" or the configuration's IndexConnectionString (IndexProvider PostgreSQL)");
        if (!postgreSql && indexConnection is not null)
            throw new BackupException("This backup's index is SQLite's (db/index.db) but an index on PostgreSQL was named (--index-connection or " +
                "the configuration's IndexProvider): restore it for a server whose IndexProvider is Sqlite");
        if (postgreSql && !File.Exists(dump))
            throw new BackupException($"The backup lacks {PostgresSnapshot.DumpFileName}, which holds its index: it was damaged since it was made");

        // Every refusal before anything is written.
        foreach (var folder in new[] { target.Root, target.Storage }.Distinct())
            if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).FirstOrDefault() is { } first)
                throw new BackupException($"The {(folder == target.Root ? "data" : "storage")} folder {folder} is not empty (it holds {Path.GetFileName(first)}, among others): " +
                    "restore only into an empty or new folder, so that nothing of another server's data is mixed with the backup");
        // The resources by level (patients, studies, series, instances) the restored index must hold.
        var expected = new[] { manifest.CountPatients, manifest.CountStudies, manifest.CountSeries, manifest.CountInstances };
        if (!postgreSql) await CheckSqliteIndexAsync(Path.Combine(source, "db", Path.GetFileName(target.IndexDatabaseFile)), manifest, expected, ct);
        else
        {
            await PostgresSnapshot.CheckEmptyAsync(indexConnection!, ct);
            // The index first: pg_restore runs in one transaction, so a failure leaves database and folders empty.
            var restored = await PostgresSnapshot.RestoreAsync(dump, indexConnection!, ct);
            if (!restored.Counts.SequenceEqual(expected))
                throw new BackupException($"The restored index holds {string.Join('/', restored.Counts)} patients/studies/series/instances where the " +
                    $"manifest says {string.Join('/', expected)}: {PostgresSnapshot.DumpFileName} is not the dump this manifest describes");
        }
        target.CreateAll();

        foreach (var database in Directory.EnumerateFiles(Path.Combine(source, "db"), "*.db"))
            File.Copy(database, Path.Combine(target.Database, Path.GetFileName(database)));
        BackupService.CopyFolder(Path.Combine(source, "certs"), target.Certificates);
        BackupService.CopyFolder(Path.Combine(source, "keys"), target.Keys);

        long bytes = 0;
        foreach (var file in manifest.Files)
        {
            ct.ThrowIfCancellationRequested();
            var relative = StorageArea.RelativePathOf(file.Uuid);
            var copied = await BackupService.CopyCheckedAsync(Path.Combine(source, "storage", relative), Path.Combine(target.Storage, relative), ct)
                ?? throw new BackupException($"The backup lacks stored file {file.Uuid}, which its manifest lists: it was damaged since it was made");
            if (!BackupService.Matches(file, copied) && !manifest.DamagedFiles.Contains(file.Uuid))
                throw new BackupException($"Stored file {file.Uuid} of the backup does not match its checksum: the backup was damaged since it was made");
            bytes += copied.Size;
        }
        StorageArea.SyncFileSystemOf(target.Root);
        if (!target.Storage.StartsWith(target.Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            StorageArea.SyncFileSystemOf(target.Storage);
        var seconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 3);
        LogRestored(logger, source, target.Root, manifest.CountInstances, manifest.Files.Count, seconds);
        return new Outcome(manifest, manifest.Files.Count, bytes, seconds);
    }

    /// <summary>
    /// The backup's SQLite index is there, whole, and the one the manifest describes: a server started on a restored
    /// folder without it would create an empty index, and its start-up check would delete every restored file as an
    /// orphan. Its resource counts and its files must be the manifest's (a file it names is in the manifest's list or
    /// among those missing when the backup was taken).
    /// </summary>
    private static async Task CheckSqliteIndexAsync(string index, BackupManifest manifest, long[] expected, CancellationToken ct)
    {
        if (!File.Exists(index))
            throw new BackupException($"The backup lacks db/index.db, which holds its index: it was damaged since it was made");
        BackupService.Snapshot snapshot;
        try { snapshot = await BackupService.ReadSnapshotAsync(index, ct); }
        catch (SqliteException ex) { throw new BackupException($"The backup's db/index.db cannot be read ({ex.Message}): it was damaged since it was made", ex); }
        var named = manifest.Files.Select(f => f.Uuid).Concat(manifest.MissingFiles).ToHashSet(StringComparer.Ordinal);
        if (!snapshot.Counts.SequenceEqual(expected) || snapshot.Files.Count != named.Count || !snapshot.Files.All(f => named.Contains(f.Uuid)))
            throw new BackupException($"The backup's db/index.db holds {string.Join('/', snapshot.Counts)} patients/studies/series/instances and " +
                $"{snapshot.Files.Count} files where the manifest says {string.Join('/', expected)} and {named.Count}: it is not the index this manifest describes");
    }

    [LoggerMessage(LogLevel.Information, "Restored {Source} into {Target}: {Instances} instances, {Files} files checked, in {Seconds} s")]
    private static partial void LogRestored(ILogger logger, string source, string target, long instances, int files, double seconds);
}
