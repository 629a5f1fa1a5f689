namespace OrthancWeb.Hosting;

/// <summary>The folders under the data directory, resolved once at start-up.</summary>
public sealed class DataPaths
{
    /// <param name="storage">The storage folder when it is not the data folder's own (Orthanc's StorageDirectory).</param>
    public DataPaths(string root, string? storage = null)
    {
        Root = Path.GetFullPath(root);
        Database = Path.Combine(Root, "db");
        Storage = string.IsNullOrEmpty(storage) ? Path.Combine(Root, "storage") : Path.GetFullPath(storage);
        Certificates = Path.Combine(Root, "certs");
        Keys = Path.Combine(Root, "keys");
    }

    public string Root { get; }

    /// <summary>The folder of the configuration file: other relative paths in it (a certificate) are resolved from here.</summary>
    public string ConfigurationFolder { get; init; } = Environment.CurrentDirectory;
    public string Database { get; }
    public string Storage { get; }
    public string Certificates { get; }
    public string Keys { get; }

    public string SecurityDatabaseFile => Path.Combine(Database, "security.db");

    public string IndexDatabaseFile => Path.Combine(Database, "index.db");

    public void CreateAll()
    {
        foreach (var dir in new[] { Root, Database, Storage, Certificates, Keys })
            Directory.CreateDirectory(dir);
    }
}
