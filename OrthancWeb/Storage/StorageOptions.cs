using System.ComponentModel.DataAnnotations;

namespace OrthancWeb.Storage;

/// <summary>Storage and ingest settings, under "OrthancWeb" with Orthanc's names so an Orthanc admin finds them.</summary>
public sealed class StorageOptions
{
    /// <summary>zlib-compress files in the storage area (Orthanc's StorageCompression).</summary>
    public bool StorageCompression { get; set; }

    /// <summary>Megabytes; 0 means no limit. When reached, the least recently updated unprotected patient is recycled.</summary>
    [Range(0, long.MaxValue)]
    public long MaximumStorageSize { get; set; }

    /// <summary>0 means no limit.</summary>
    [Range(0, int.MaxValue)]
    public int MaximumPatientCount { get; set; }

    /// <summary>
    /// Megabytes of free disk the storage area keeps: an instance (REST, browser, C-STORE) that would leave less is
    /// refused as storage full (HTTP 507, DIMSE 0xA700) rather than filling the disk the index and the system share.
    /// 0 turns the floor off (a full disk is still answered the same way).
    /// </summary>
    [Range(0, long.MaxValue / (1024 * 1024))]
    public long MinimumFreeDiskSpace { get; set; } = 100;

    /// <summary>
    /// Megabytes: a C-STORE data set larger than this is written to its file as its fragments arrive instead of being
    /// held in memory, so 32 associations cannot each buffer a 2 GB data set. 0 spools every data set.
    /// </summary>
    [Range(0, 1024)]
    public int DicomSpoolThreshold { get; set; } = 1;

    /// <summary>Megabytes a deflated instance (Deflated Explicit VR Little Endian, PS3.5 §A.5) may inflate to; past it, it is refused.</summary>
    [Range(1, 64 * 1024)]
    public long MaximumInflatedSize { get; set; } = 64;

    /// <summary>How many times its deflated size an instance may inflate to (deflate bombs inflate about 1000 times); 0 = no ratio check.</summary>
    [Range(0, 100_000)]
    public int MaximumInflationRatio { get; set; } = 200;

    /// <summary>
    /// A transfer syntax UID every arriving instance (C-STORE, REST, browser upload, STOW-RS) is stored in when it can be
    /// transcoded to it; otherwise it is stored as received and a warning is logged (Orthanc's IngestTranscoding).
    /// Empty: stored as received. Checked at start-up: the syntax must be one this server can write.
    /// </summary>
    public string IngestTranscoding { get; set; } = "";

    /// <summary>Whether instances received uncompressed (implicit or explicit VR, little or big endian) are transcoded.</summary>
    public bool IngestTranscodingOfUncompressed { get; set; } = true;

    /// <summary>Whether instances received compressed (encapsulated, or deflated) are transcoded.</summary>
    public bool IngestTranscodingOfCompressed { get; set; } = true;

    /// <summary>
    /// Megabytes: an instance larger than this as received, or whose pixel data would decode to more, is stored as
    /// received rather than transcoded at ingest. Transcoding holds the instance and its new encoding in memory, and a
    /// hostile header (65535 x 65535, thousands of frames) must not make it allocate gigabytes.
    /// </summary>
    [Range(1, 64 * 1024)]
    public long IngestTranscodingMaximumSize { get; set; } = 256;

    /// <summary>A second copy of a SOP instance replaces the first instead of being reported AlreadyStored.</summary>
    public bool OverwriteInstances { get; set; }

    /// <summary>Seconds without a new instance after which a series, study and patient become stable.</summary>
    [Range(1, 86400)]
    public int StableAge { get; set; } = 60;

    /// <summary>Database provider for the index: "Sqlite" (embedded default) or "PostgreSQL" (later).</summary>
    [RegularExpression("^(Sqlite|PostgreSQL)$")]
    public string IndexProvider { get; set; } = "Sqlite";

    /// <summary>Connection string for a server provider; SQLite lives in the data folder.</summary>
    public string IndexConnectionString { get; set; } = "";

    /// <summary>
    /// Whether the start-up check compares the whole index with the storage area (files without a row are deleted, rows
    /// without a file removed: a few seconds per million instances). False checks only what a power cut can have cut
    /// short, the files committed after the durability watermark: for an index whose files are kept elsewhere or were
    /// never written (a generated benchmark index), which the whole check would otherwise empty.
    /// </summary>
    public bool StartupCheckAllFiles { get; set; } = true;

    /// <summary>
    /// Seconds between two sweeps of orphan files while servers run on a shared index and storage folder (0: none). A
    /// server killed between its rename and its commit leaves a file no row names; its own start-up check removes it,
    /// but it may never start again. Only the leader sweeps, and only files older than an hour.
    /// </summary>
    [Range(0, 7 * 86400)]
    public int OrphanSweepSeconds { get; set; } = 6 * 3600;
}
