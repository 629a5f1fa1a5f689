using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrthancWeb.Backup;

/// <summary>
/// What a backup folder holds, written last (its presence marks a complete backup): when, by which build, at which
/// index schema, and every stored file with the checksum the index recorded for it, so that a restore (or anyone with
/// <c>xxh128sum</c>) can check each file. The folder itself is laid out as a data folder: <c>db/</c>, <c>storage/</c>,
/// <c>certs/</c>, <c>keys/</c>, and <c>index.pgdump</c> beside them when the index is on PostgreSQL.
/// </summary>
public sealed record BackupManifest
{
    public const string FileName = "manifest.json";

    /// <summary>Format of a backup whose index is SQLite's, in <c>db/index.db</c>.</summary>
    public const int SqliteFormat = 1;

    /// <summary>
    /// Format of a backup whose index is on PostgreSQL, dumped to <c>index.pgdump</c> (pg_dump's custom format): a number
    /// of its own so that a release that knows only SQLite backups refuses it rather than restore it without its index.
    /// </summary>
    public const int PostgreSqlFormat = 2;

    /// <summary>The layout of the folder and of this file; a restore refuses a format it does not know.</summary>
    public int Format { get; init; } = SqliteFormat;
    public DateTimeOffset CreatedAt { get; init; }
    public string ServerVersion { get; init; } = "";
    public string IndexProvider { get; init; } = "";
    /// <summary>The last EF Core migration applied to the snapshot's index (its schema), e.g. 20261202140438_LabelsRevisions.</summary>
    public string IndexMigration { get; init; } = "";
    public long CountPatients { get; init; }
    public long CountStudies { get; init; }
    public long CountSeries { get; init; }
    public long CountInstances { get; init; }
    public int FileCount { get; init; }
    /// <summary>Bytes of the stored files as on disk (compressed when they are).</summary>
    public long FileBytes { get; init; }
    /// <summary>Bytes of the database snapshots (index, audit trail, accounts).</summary>
    public long DatabaseBytes { get; init; }
    public double DurationSeconds { get; init; }
    /// <summary>Files the snapshot's index names that were deleted (a deletion, recycling) before they could be copied.</summary>
    public IReadOnlyList<string> MissingFiles { get; init; } = [];
    /// <summary>Files whose bytes no longer match the index's checksum: copied as they are, for an expert to look at.</summary>
    public IReadOnlyList<string> DamagedFiles { get; init; } = [];
    public IReadOnlyList<BackupFile> Files { get; init; } = [];

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The manifest without its file list: what the REST route and the UI answer.</summary>
    public BackupManifest Summary() => this with { Files = [] };
}

/// <summary>One stored file: its UUID (its path is storage/ab/cd/uuid), its size on disk, and the index's checksums.</summary>
/// <param name="Checksum">XXH128 of the bytes on disk (<see cref="Storage.FileChecksum"/>), empty for rows older than that column.</param>
/// <param name="Md5">Orthanc's MD5 of the bytes on disk when the index has computed it, else empty.</param>
public sealed record BackupFile(string Uuid, long Size, string Checksum, string Md5);
