using System.Diagnostics;
using System.IO.Hashing;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OrthancWeb.Audit;
using OrthancWeb.Hosting;
using OrthancWeb.Index;
using OrthancWeb.Security;
using OrthancWeb.Storage;

namespace OrthancWeb.Backup;

/// <summary>
/// An online backup: a consistent snapshot of the index and the storage area taken while the server goes on storing.
/// The index is copied first, with SQLite's online backup (<see cref="SqliteSnapshot"/>) or, for an index on PostgreSQL,
/// with pg_dump in a snapshot whose file list is read alongside (<see cref="PostgresSnapshot"/>); the stored files that
/// snapshot names are then copied from the storage folder (shared by the servers sharing a PostgreSQL index). Files are never changed once written (a store writes uuid.part and renames it; a
/// replacement gets a new UUID), so a file named by the snapshot is either copied whole or gone (deleted since: listed
/// in <see cref="BackupManifest.MissingFiles"/>, and dropped from the index by the start-up check of a restored server).
/// Every instance acknowledged before the backup started is in the snapshot, since the index commits before a store
/// is answered. The audit trail and the accounts (their own SQLite files) are copied the same way, the certificate
/// and the cookie keys as they are. Used by the command line (without a server: no caller, no audit trail), the REST
/// route and the UI.
/// </summary>
/// <param name="liveStorage">The running server's storage area, whose deletions are held back while the files are copied
/// (see <see cref="StorageArea.HoldDeletions"/>); null for the command line, which runs beside the server and cannot hold
/// them: a file the server deletes meanwhile is listed in <see cref="BackupManifest.MissingFiles"/>.</param>
public sealed partial class BackupService(DataPaths paths, StorageOptions store, TimeProvider time, ILogger<BackupService> logger, IAuditTrail? audit = null, StorageArea? liveStorage = null)
{
    private int _running; // 1 while a backup runs: one at a time

    /// <summary>The build's version, as the manifest records it.</summary>
    public static string ServerVersion =>
        typeof(BackupService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(BackupService).Assembly.GetName().Version?.ToString() ?? "";

    /// <summary>Writes a backup into <paramref name="target"/> (a new or empty folder outside the data folder).</summary>
    public async Task<BackupManifest> CreateAsync(string target, CancellationToken ct)
    {
        Caller.Demand(Policies.Administer, "back up the server");
        string folder;
        try { folder = CheckTarget(target); }
        catch (BackupException ex)
        {
            // A refused target is audited too: the route takes any path an administrator (or a stolen session) names.
            Audit(AuditOutcome.MinorFailure, target, ex.Message);
            throw;
        }
        if (Interlocked.Exchange(ref _running, 1) == 1) throw new BackupException("A backup is already running: wait for it to finish");
        try
        {
            var manifest = await WriteAsync(folder, ct);
            // Files the snapshot named but that were gone or no longer matched their checksum are said, not hidden.
            var gaps = (manifest.MissingFiles.Count, manifest.DamagedFiles.Count) is (0, 0) ? ""
                : $"; {manifest.MissingFiles.Count} files missing, {manifest.DamagedFiles.Count} damaged";
            Audit(gaps.Length == 0 ? AuditOutcome.Success : AuditOutcome.MinorFailure, folder,
                $"{manifest.CountInstances} instances, {manifest.FileCount} files, {manifest.FileBytes + manifest.DatabaseBytes} bytes{gaps}");
            return manifest;
        }
        catch (Exception ex)
        {
            // A cancelled backup (the server stopping) is audited too: it left a partial copy of the data behind.
            var details = ex is OperationCanceledException ? $"Cancelled before it finished; the folder holds a partial copy (no {BackupManifest.FileName})" : ex.Message;
            Audit(AuditOutcome.SeriousFailure, folder, details);
            throw;
        }
        finally { Volatile.Write(ref _running, 0); }
    }

    private void Audit(AuditOutcome outcome, string folder, string details) =>
        audit?.Record(new AuditEvent(AuditActions.Backup, outcome) { ResourceLevel = "Backup", ResourceId = folder, Details = details });

    private string CheckTarget(string target)
    {
        if (string.IsNullOrWhiteSpace(target)) throw new BackupException("Name the folder to write the backup into");
        string folder;
        try { folder = Path.GetFullPath(target); }
        catch (ArgumentException ex) { throw new BackupException($"Not a path: \"{target}\"", ex); }
        foreach (var (used, what) in new[] { (paths.Root, "data folder"), (paths.Storage, "storage folder") })
        {
            var inside = used + Path.DirectorySeparatorChar;
            if ((folder + Path.DirectorySeparatorChar).StartsWith(inside, StringComparison.Ordinal) || inside.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new BackupException($"{folder} overlaps the server's {what} {used}: choose a folder outside it (better, on another disk)");
        }
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new BackupException($"{folder} is not empty: a backup goes into a new or empty folder");
        return folder;
    }

    private async Task<BackupManifest> WriteAsync(string folder, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var createdAt = time.GetUtcNow();
        var db = Path.Combine(folder, "db");
        Directory.CreateDirectory(db);
        // From before the snapshot until its files are copied, no stored file is deleted (see HoldDeletions).
        using var hold = liveStorage?.HoldDeletions();
        // The index first: it decides which files belong to the backup.
        Snapshot snapshot;
        long databaseBytes;
        if (IsPostgreSql)
        {
            var dump = Path.Combine(folder, PostgresSnapshot.DumpFileName);
            snapshot = await PostgresSnapshot.DumpAsync(store.IndexConnectionString, dump, ct);
            databaseBytes = new FileInfo(dump).Length;
        }
        else
        {
            var index = Path.Combine(db, Path.GetFileName(paths.IndexDatabaseFile));
            databaseBytes = await SqliteSnapshot.CopyAsync(paths.IndexDatabaseFile, index, ct);
            if (databaseBytes == 0) throw new BackupException($"No index at {paths.IndexDatabaseFile}: nothing to back up");
            snapshot = await ReadSnapshotAsync(index, ct);
        }
        // The audit trail and the accounts are this server's own SQLite files, even beside an index on PostgreSQL.
        foreach (var other in new[] { AuditRegistration.DatabaseFile(paths), paths.SecurityDatabaseFile })
            databaseBytes += await SqliteSnapshot.CopyAsync(other, Path.Combine(db, Path.GetFileName(other)), ct);
        foreach (var small in new[] { paths.Certificates, paths.Keys })
            CopyFolder(small, Path.Combine(folder, Path.GetFileName(small)));

        // From the storage folder the server uses, which servers sharing a PostgreSQL index share (StorageDirectory).
        var storage = Path.Combine(folder, "storage");
        var files = new List<BackupFile>(snapshot.Files.Count);
        var missing = new List<string>();
        var damaged = new List<string>();
        long bytes = 0;
        foreach (var file in snapshot.Files)
        {
            ct.ThrowIfCancellationRequested();
            var source = Path.Combine(paths.Storage, StorageArea.RelativePathOf(file.Uuid));
            var destination = Path.Combine(storage, StorageArea.RelativePathOf(file.Uuid));
            var copied = await CopyCheckedAsync(source, destination, ct);
            if (copied is null) { missing.Add(file.Uuid); continue; }
            if (!Matches(file, copied.Value)) { damaged.Add(file.Uuid); LogDamaged(logger, file.Uuid); }
            bytes += copied.Value.Size;
            files.Add(file with { Size = copied.Value.Size, Checksum = copied.Value.Checksum });
        }
        hold?.Dispose();
        StorageArea.SyncFileSystemOf(folder);
        var manifest = new BackupManifest
        {
            Format = IsPostgreSql ? BackupManifest.PostgreSqlFormat : BackupManifest.SqliteFormat,
            CreatedAt = createdAt,
            ServerVersion = ServerVersion,
            IndexProvider = store.IndexProvider,
            IndexMigration = snapshot.Migration,
            CountPatients = snapshot.Counts[(int)ResourceLevel.Patient],
            CountStudies = snapshot.Counts[(int)ResourceLevel.Study],
            CountSeries = snapshot.Counts[(int)ResourceLevel.Series],
            CountInstances = snapshot.Counts[(int)ResourceLevel.Instance],
            FileCount = files.Count,
            FileBytes = bytes,
            DatabaseBytes = databaseBytes,
            DurationSeconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 3),
            MissingFiles = missing,
            DamagedFiles = damaged,
            Files = files,
        };
        // Last, through a temporary name: a folder with a manifest is a complete backup.
        var temp = Path.Combine(folder, BackupManifest.FileName + ".part");
        await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            await JsonSerializer.SerializeAsync(stream, manifest, BackupManifest.Json, ct);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, Path.Combine(folder, BackupManifest.FileName));
        StorageArea.SyncFileSystemOf(folder);
        LogWritten(logger, folder, manifest.CountInstances, manifest.FileCount, manifest.FileBytes + manifest.DatabaseBytes, manifest.DurationSeconds);
        return manifest;
    }

    /// <summary>What an index snapshot holds: its schema, its resources by level, its stored files.</summary>
    internal sealed record Snapshot(string Migration, long[] Counts, List<BackupFile> Files);

    private bool IsPostgreSql => store.IndexProvider == IndexDatabase.PostgreSql;

    /// <summary>What the snapshot's index holds: read from the copy, never from the live index, which has moved on.</summary>
    internal static async Task<Snapshot> ReadSnapshotAsync(string index, CancellationToken ct)
    {
        await using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = index, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await db.OpenAsync(ct);
        // A damaged copy is refused here rather than trusted (PRAGMA quick_check: every page, without the index contents).
        if (await Scalar(db, "PRAGMA quick_check", ct) is not "ok")
            throw new BackupException($"{index} fails SQLite's integrity check: the index's copy is damaged");
        var migration = (string?)await Scalar(db, "SELECT MigrationId FROM __EFMigrationsHistory ORDER BY MigrationId DESC LIMIT 1", ct) ?? "";
        var counts = new long[4];
        await using (var levels = db.CreateCommand())
        {
            levels.CommandText = "SELECT Level, COUNT(*) FROM Resources GROUP BY Level";
            await using var reader = await levels.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                if (reader.GetInt32(0) is var level and >= 0 and < 4) counts[level] = reader.GetInt64(1);
        }
        var files = new List<BackupFile>();
        await using (var attachments = db.CreateCommand())
        {
            attachments.CommandText = "SELECT Uuid, CompressedSize, Checksum, CompressedMd5 FROM Attachments ORDER BY Uuid";
            await using var reader = await attachments.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                files.Add(new BackupFile(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3)));
        }
        return new Snapshot(migration, counts, files);
    }

    private static async Task<object?> Scalar(SqliteConnection db, string sql, CancellationToken ct)
    {
        await using var command = db.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(ct);
    }

    /// <summary>Whether a copied file's bytes are those the index recorded (its XXH128, else its MD5, else its size).</summary>
    public static bool Matches(BackupFile recorded, (long Size, string Checksum, string Md5) copied) =>
        recorded.Size == copied.Size &&
        (recorded.Checksum.Length > 0 ? recorded.Checksum == copied.Checksum
            : recorded.Md5.Length == 0 || recorded.Md5 == copied.Md5);

    /// <summary>
    /// Copies one file, checksumming the bytes on their way (XXH128 and MD5, as the index records them); null when the
    /// source no longer exists.
    /// </summary>
    public static async Task<(long Size, string Checksum, string Md5)?> CopyCheckedAsync(string source, string destination, CancellationToken ct)
    {
        FileStream input;
        try { input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan); }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { return null; }
        await using (input)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            await using var output = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            var xxh = new XxHash128();
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 17);
            long size = 0;
            try
            {
                int n;
                while ((n = await input.ReadAsync(buffer, ct)) > 0)
                {
                    xxh.Append(buffer.AsSpan(0, n));
                    md5.AppendData(buffer, 0, n);
                    await output.WriteAsync(buffer.AsMemory(0, n), ct);
                    size += n;
                }
                // On Linux one syncfs of the target covers every copy (the caller's); elsewhere each file is flushed.
                if (!StorageArea.CanSyncFileSystem) output.Flush(flushToDisk: true);
            }
            finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
            return (size, FileChecksum.Hex(xxh), Convert.ToHexStringLower(md5.GetHashAndReset()));
        }
    }

    /// <summary>Copies a small folder (the certificate, the cookie keys) as it is.</summary>
    public static void CopyFolder(string from, string to)
    {
        if (!Directory.Exists(from)) return;
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    [LoggerMessage(LogLevel.Information, "Backup written to {Folder}: {Instances} instances, {Files} files, {Bytes} bytes in {Seconds} s")]
    private static partial void LogWritten(ILogger logger, string folder, long instances, int files, long bytes, double seconds);

    [LoggerMessage(LogLevel.Warning, "Backup: stored file {Uuid} no longer matches the checksum the index recorded; copied as it is and listed in the manifest")]
    private static partial void LogDamaged(ILogger logger, string uuid);
}
