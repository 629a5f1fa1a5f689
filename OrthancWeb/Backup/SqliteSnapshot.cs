using Microsoft.Data.Sqlite;

namespace OrthancWeb.Backup;

/// <summary>
/// A consistent copy of a live SQLite database through SQLite's online backup API (https://www.sqlite.org/backup.html,
/// <c>sqlite3_backup_*</c>, which <see cref="SqliteConnection.BackupDatabase(SqliteConnection)"/> runs in one step). The
/// source is read inside one read transaction: in WAL mode the server's writer goes on committing meanwhile, and the
/// copy is the database as of that transaction's start, never a torn mix of pages.
/// </summary>
public static class SqliteSnapshot
{
    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> (a new file); returns its size.</summary>
    public static async Task<long> CopyAsync(string source, string destination, CancellationToken ct)
    {
        if (!File.Exists(source)) return 0;
        // Off the request's thread: the copy is blocking I/O, as long as the database is big.
        await Task.Run(() =>
        {
            // No pooling: the files must be closed when this returns (the snapshot is then copied or checked).
            // Built, not pasted: a path holding ';' (a backup folder is the caller's choice) cannot add keywords.
            using var from = new SqliteConnection(new SqliteConnectionStringBuilder
                { DataSource = source, Mode = SqliteOpenMode.ReadOnly, DefaultTimeout = 60, Pooling = false }.ToString());
            using var to = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = destination, Pooling = false }.ToString());
            from.Open();
            to.Open();
            from.BackupDatabase(to);
            // The copy inherits the source's WAL mode; a backup is one self-contained file instead (the server turns
            // WAL back on when it opens a restored index).
            using var journal = to.CreateCommand();
            journal.CommandText = "PRAGMA journal_mode=DELETE;";
            journal.ExecuteNonQuery();
        }, ct);
        return new FileInfo(destination).Length;
    }
}
