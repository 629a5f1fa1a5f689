using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace OrthancWeb.Index;

/// <summary>
/// SQLite in WAL mode with synchronous=NORMAL: a commit is an append without a flush of its own, because the index
/// writer acknowledges an instance only after one syncfs has flushed the files and the write-ahead log together.
/// A power cut can then lose only unacknowledged commits, and WAL recovery keeps the database consistent.
/// </summary>
public sealed class SqliteSynchronousInterceptor : DbConnectionInterceptor
{
    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous=NORMAL;";
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous=NORMAL;";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
