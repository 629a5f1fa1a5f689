using System.Diagnostics;
using System.Text.Json;
using OrthancWeb.Hosting;
using OrthancWeb.Storage;

namespace OrthancWeb.Backup;

/// <summary>
/// Restores a backup into an empty data folder, for a server to be started on it: the databases, the certificate and
/// the keys as they were, and every stored file the manifest lists, each checked against its checksum on the way.
/// Never into a folder that holds anything, so that a backup is not mixed with another server's data (or this one's,
/// still running). The start-up check of the server started on it then finds index and files in agreement.
/// </summary>
public sealed partial class BackupRestore(ILogger<BackupRestore> logger)
{
    public sealed record Outcome(BackupManifest Manifest, int Files, long Bytes, double Seconds);

    public async Task<Outcome> RestoreAsync(string from, string dataFolder, CancellationToken ct)
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
        if (manifest.Format != 1)
            throw new BackupException($"{manifestFile} has format {manifest.Format}, which this release does not know: restore it with the release that made it ({manifest.ServerVersion}) or a newer one");

        var target = new DataPaths(dataFolder);
        if (Directory.Exists(target.Root) && Directory.EnumerateFileSystemEntries(target.Root).FirstOrDefault() is { } first)
            throw new BackupException($"The data folder {target.Root} is not empty (it holds {Path.GetFileName(first)}, among others): " +
                "restore only into an empty or new folder, so that nothing of another server's data is mixed with the backup");
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
        var seconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 3);
        LogRestored(logger, source, target.Root, manifest.CountInstances, manifest.Files.Count, seconds);
        return new Outcome(manifest, manifest.Files.Count, bytes, seconds);
    }

    [LoggerMessage(LogLevel.Information, "Restored {Source} into {Target}: {Instances} instances, {Files} files checked, in {Seconds} s")]
    private static partial void LogRestored(ILogger logger, string source, string target, long instances, int files, double seconds);
}
