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
}
