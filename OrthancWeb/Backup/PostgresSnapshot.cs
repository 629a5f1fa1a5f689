using Npgsql;
using OrthancWeb.Index;

namespace OrthancWeb.Backup;

/// <summary>
/// The backup of an index on PostgreSQL, and its restore. PostgreSQL's documented logical backup is pg_dump
/// (https://www.postgresql.org/docs/15/backup-dump.html); to pair its dump with the stored files, the dump and the list
/// of files must see the same committed state of the index. So a read-only REPEATABLE READ transaction exports its
/// snapshot (pg_export_snapshot, "Synchronized snapshots": https://www.postgresql.org/docs/15/functions-admin.html#FUNCTIONS-SNAPSHOT-SYNCHRONIZATION),
/// pg_dump --snapshot dumps exactly that state (https://www.postgresql.org/docs/15/app-pgdump.html), and the attachment
/// list is read in the same transaction, which stays open until pg_dump is done (an exported snapshot can be imported
/// only while its transaction lives). Servers sharing the index go on writing meanwhile: what they commit after the
/// snapshot is in neither the dump nor the list.
/// </summary>
internal static class PostgresSnapshot
{
    /// <summary>The dump's name in the backup folder (pg_dump's custom format, for pg_restore).</summary>
    public const string DumpFileName = "index.pgdump";

    /// <summary>Dumps the index into <paramref name="dumpFile"/> and returns what that same snapshot holds.</summary>
    public static async Task<BackupService.Snapshot> DumpAsync(string connectionString, string dumpFile, CancellationToken ct)
    {
        var pgDump = PostgresTools.Find("pg_dump");
        var (conninfo, environment) = PostgresTools.Connection(connectionString);
        await using var connection = await OpenAsync(connectionString, ct);
        try
        {
            // Read-only, and REPEATABLE READ: its first statement takes the snapshot every later one sees, this one, exported.
            await Execute(connection, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", ct);
            var snapshotId = (string)(await Scalar(connection, "SELECT pg_export_snapshot()", ct))!;
            var snapshot = await ReadAsync(connection, withFiles: true, ct);
            await PostgresTools.RunAsync(pgDump,
                ["--format=custom", "--no-password", "--lock-wait-timeout=60s", $"--snapshot={snapshotId}", $"--file={dumpFile}", $"--dbname={conninfo}"], environment, ct);
            await Execute(connection, "COMMIT", ct);
            return snapshot;
        }
        catch (NpgsqlException ex) { throw Failed(connection, ex); }
    }

    /// <summary>
    /// Restores a dump into an empty database (refused otherwise, saying what it holds), in one transaction: a failed
    /// restore leaves the database empty, to be tried again. Returns what the restored index holds.
    /// </summary>
    public static async Task<BackupService.Snapshot> RestoreAsync(string dumpFile, string connectionString, CancellationToken ct)
    {
        var pgRestore = PostgresTools.Find("pg_restore");
        var (conninfo, environment) = PostgresTools.Connection(connectionString);
        // --no-owner and --no-privileges: the objects belong to the user restoring, not to roles of the backed-up
        // server that this one may not have (https://www.postgresql.org/docs/15/app-pgrestore.html).
        await PostgresTools.RunAsync(pgRestore,
            ["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", "--no-password", $"--dbname={conninfo}", dumpFile],
            environment, ct);
        await using var connection = await OpenAsync(connectionString, ct);
        try { return await ReadAsync(connection, withFiles: false, ct); }
        catch (NpgsqlException ex) { throw Failed(connection, ex); }
    }

    /// <summary>Refuses a database that holds any table, view or sequence of its own (anything outside PostgreSQL's catalogs).</summary>
    public static async Task CheckEmptyAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = await OpenAsync(connectionString, ct);
        await using var command = new NpgsqlCommand("""
            SELECT count(*) OVER (), n.nspname || '.' || c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
            ORDER BY 2 LIMIT 1
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (await reader.ReadAsync(ct))
            throw new BackupException(
                $"The database '{connection.Database}' on {connection.Host} is not empty (it holds {reader.GetInt64(0)} tables, views or sequences, " +
                $"{reader.GetString(1)} among them): restore only into an empty database (CREATE DATABASE ...), so that nothing of another " +
                "index is mixed with the backup. Nothing was changed");
    }

    private static BackupException Failed(NpgsqlConnection connection, NpgsqlException ex) =>
        new($"The index database '{connection.Database}' on {connection.Host} failed: {ex.Message}", ex);

    private static async Task<NpgsqlConnection> OpenAsync(string connectionString, CancellationToken ct)
    {
        // Not from the pool: this session is the snapshot's, and ends with it.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            return connection;
        }
        catch (NpgsqlException ex)
        {
            await connection.DisposeAsync();
            throw new BackupException($"Cannot connect to the index database '{builder.Database}' on {builder.Host}: {ex.Message}", ex);
        }
    }

    private static async Task<BackupService.Snapshot> ReadAsync(NpgsqlConnection connection, bool withFiles, CancellationToken ct)
    {
        var migration = (string?)await Scalar(connection, """SELECT "MigrationId" FROM "__EFMigrationsHistory" ORDER BY "MigrationId" DESC LIMIT 1""", ct) ?? "";
        var counts = new long[4];
        await using (var levels = new NpgsqlCommand("""SELECT "Level", count(*) FROM "Resources" GROUP BY "Level" """, connection))
        await using (var reader = await levels.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
                if (reader.GetInt32(0) is var level and >= 0 and < 4) counts[level] = reader.GetInt64(1);
        }
        var files = new List<BackupFile>();
        if (withFiles)
        {
            await using var attachments = new NpgsqlCommand("""SELECT "Uuid", "CompressedSize", "Checksum", "CompressedMd5" FROM "Attachments" ORDER BY "Uuid" """, connection);
            await using var reader = await attachments.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                files.Add(new BackupFile(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3)));
        }
        return new BackupService.Snapshot(migration, counts, files);
    }

    private static async Task<object?> Scalar(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync(ct);
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct);
    }
}
