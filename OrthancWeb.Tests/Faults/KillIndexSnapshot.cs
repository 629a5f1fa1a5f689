using Microsoft.Data.Sqlite;

namespace OrthancWeb.Tests.Faults;

/// <summary>
/// What a server's index and storage area hold, read from the files themselves (the index opened read-only, so a
/// crashed server's WAL is left for its own restart to recover): the ground truth the fault tests compare with what
/// clients were told.
/// </summary>
internal sealed class KillIndexSnapshot
{
    /// <summary>Instance public ID -> (attachment UUID, checksum); an instance with no DICOM attachment is in <see cref="InstancesWithoutFile"/> instead.</summary>
    public Dictionary<string, (string Uuid, string Checksum)> Instances { get; } = new(StringComparer.Ordinal);
    public List<string> InstancesWithoutFile { get; } = [];
    /// <summary>Patients, studies, series with no child: rows a deletion or a half-done store should never leave.</summary>
    public List<string> EmptyParents { get; } = [];
    public HashSet<string> AttachmentUuids { get; } = new(StringComparer.Ordinal);
    /// <summary>Files named by a UUID in the storage area (storage/ab/cd/uuid); partial ".part" files are counted apart.</summary>
    public HashSet<string> StorageFiles { get; } = new(StringComparer.Ordinal);
    public int PartialFiles { get; private set; }

    public IEnumerable<string> OrphanFiles => StorageFiles.Where(f => !AttachmentUuids.Contains(f));
    public IEnumerable<string> RowsWithoutFile => AttachmentUuids.Where(u => !StorageFiles.Contains(u));

    public static string StoragePath(string dataDirectory, string uuid) => Path.Combine(dataDirectory, "storage", uuid[..2], uuid[2..4], uuid);

    public static KillIndexSnapshot Read(string dataDirectory)
    {
        var s = new KillIndexSnapshot();
        using (var c = new SqliteConnection($"Data Source={Path.Combine(dataDirectory, "db", "index.db")};Mode=ReadOnly;Pooling=False"))
        {
            c.Open();
            using var tx = c.BeginTransaction(); // one consistent read across the three queries
            foreach (var (id, uuid, checksum) in Query(c, tx, """
                SELECT r."PublicId", a."Uuid", a."Checksum" FROM "Resources" r
                LEFT JOIN "Attachments" a ON a."ResourceId" = r."Id" AND a."ContentType" = 1
                WHERE r."Level" = 3
                """, r => (r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? "" : r.GetString(2))))
            {
                if (uuid is null) s.InstancesWithoutFile.Add(id);
                else s.Instances[id] = (uuid, checksum);
            }
            s.EmptyParents.AddRange(Query(c, tx, """
                SELECT r."PublicId" FROM "Resources" r WHERE r."Level" < 3
                AND NOT EXISTS (SELECT 1 FROM "Resources" c WHERE c."ParentId" = r."Id")
                """, r => r.GetString(0)));
            s.AttachmentUuids.UnionWith(Query(c, tx, """SELECT "Uuid" FROM "Attachments" """, r => r.GetString(0)));
        }
        var storage = Path.Combine(dataDirectory, "storage");
        foreach (var l1 in Directory.EnumerateDirectories(storage).Where(d => Path.GetFileName(d).Length == 2))
            foreach (var l2 in Directory.EnumerateDirectories(l1))
                foreach (var f in Directory.EnumerateFiles(l2))
                {
                    var name = Path.GetFileName(f);
                    if (name.EndsWith(".part", StringComparison.Ordinal)) s.PartialFiles++;
                    else s.StorageFiles.Add(name);
                }
        return s;
    }

    private static List<T> Query<T>(SqliteConnection c, SqliteTransaction tx, string sql, Func<SqliteDataReader, T> row)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var list = new List<T>();
        while (r.Read()) list.Add(row(r));
        return list;
    }
}
