using System.IO.Hashing;
using Microsoft.Data.Sqlite;

namespace OrthancWeb.Tests.Server;

/// <summary>Reads and edits a test server's index database directly, to check what it recorded and to stage faults.</summary>
internal static class IndexFile
{
    public static SqliteConnection Open(string dataDirectory)
    {
        var c = new SqliteConnection($"Data Source={System.IO.Path.Combine(dataDirectory, "db", "index.db")};Pooling=False");
        c.Open();
        return c;
    }

    /// <summary>The attachment row of an instance, by public ID.</summary>
    public static (string Checksum, string Md5, string CompressedMd5, string Uuid) Attachment(string dataDirectory, string instanceId)
    {
        using var c = Open(dataDirectory);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT a."Checksum", a."UncompressedMd5", a."CompressedMd5", a."Uuid" FROM "Attachments" a
            JOIN "Resources" r ON r."Id" = a."ResourceId" WHERE r."PublicId" = $id
            """;
        cmd.Parameters.AddWithValue("$id", instanceId);
        using var r = cmd.ExecuteReader();
        Assert.True(r.Read(), $"no attachment row for {instanceId}");
        return (r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3));
    }

    public static void Execute(string dataDirectory, string sql, params (string Name, object Value)[] parameters)
    {
        using var c = Open(dataDirectory);
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
        cmd.ExecuteNonQuery();
    }

    /// <summary>The checksum the server records: XXH128 of the file's bytes, lower-case hex.</summary>
    public static string Checksum(byte[] bytes) => Convert.ToHexStringLower(XxHash128.Hash(bytes));
}
