using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// The two index providers and how a context is pointed at one: SQLite in the data folder (the embedded default) or a
/// PostgreSQL server named by a connection string. One model, one migration history per provider
/// (<c>Index/Migrations/Sqlite</c>, <c>Index/Migrations/PostgreSql</c>), chosen by <see cref="ProviderMigrationsAssembly"/>.
/// </summary>
public static class IndexDatabase
{
    public const string Sqlite = "Sqlite";
    public const string PostgreSql = "PostgreSQL";

    /// <summary>Configures <paramref name="options"/> for the provider the settings name.</summary>
    /// <param name="sqliteFile">The SQLite database file (used only by the SQLite provider).</param>
    public static void Configure(DbContextOptionsBuilder options, StorageOptions store, string sqliteFile)
    {
        switch (store.IndexProvider)
        {
            case Sqlite:
                // A list in a query (ids.Contains(...)) goes as one JSON parameter: EF Core 10 otherwise makes one SQL
                // parameter per item, and SQLite refuses more than 32,766 (a find matching 100,000 studies failed).
                options.UseSqlite($"Data Source={sqliteFile};Default Timeout=60;Foreign Keys=True",
                    sqlite => sqlite.UseParameterizedCollectionMode(ParameterTranslationMode.Parameter));
                if (StorageArea.CanSyncFileSystem) options.AddInterceptors(new SqliteSynchronousInterceptor());
                break;
            case PostgreSql:
                Validate(store);
                // A list goes as one array parameter (= ANY(@ids)), however long.
                options.UseNpgsql(store.IndexConnectionString,
                    npgsql => npgsql.UseParameterizedCollectionMode(ParameterTranslationMode.Parameter));
                break;
            default:
                throw new InvalidOperationException($"Unknown index provider '{store.IndexProvider}': use {Sqlite} or {PostgreSql}");
        }
        options.ReplaceService<IMigrationsAssembly, ProviderMigrationsAssembly>();
    }

    /// <summary>Refuses, at start-up, settings that name PostgreSQL without saying where it is.</summary>
    public static void Validate(StorageOptions store)
    {
        if (store.IndexProvider == PostgreSql && string.IsNullOrWhiteSpace(store.IndexConnectionString))
            throw new InvalidOperationException("IndexProvider is PostgreSQL but IndexConnectionString is empty: set OrthancWeb:IndexConnectionString (or OrthancWeb__IndexConnectionString)");
    }

    /// <summary>
    /// Whether a failed transaction lost a race with another writer of the same database, so that running it again
    /// (caches forgotten) can succeed: on PostgreSQL a unique key another server inserted first (23505), a parent it
    /// deleted meanwhile (23503), a serialization failure or a deadlock (40001, 40P01). SQLite has one writer: never.
    /// </summary>
    public static bool IsConcurrencyConflict(Exception exception) =>
        Unwrap<Npgsql.PostgresException>(exception) is { SqlState: "23505" or "23503" or "40001" or "40P01" };

    /// <summary>
    /// Whether a failure says the index database cannot be reached now, rather than that a statement was wrong: on
    /// PostgreSQL a connection that failed or broke (Npgsql's own exceptions, whatever EF Core wraps them in), or the
    /// server ending sessions as it shuts down or refusing them as it starts (SQLSTATE classes 08 and 57P,
    /// "operator intervention": PostgreSQL documentation, Appendix A). Answered as Orthanc's DatabaseUnavailable.
    /// </summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is Npgsql.PostgresException p) return p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState.StartsWith("57P", StringComparison.Ordinal);
            // Transient: the connection failed, broke or timed out; not our own misuse of it (an operation already in progress).
            if (e is Npgsql.NpgsqlException n) return n.IsTransient;
        }
        return false;
    }

    /// <summary>What a client is told of <see cref="IsUnavailable"/>, with the database's or Npgsql's own words.</summary>
    public static string UnavailableReason(Exception exception) =>
        Unwrap<CommitOutcomeUnknownException>(exception) is not null
            ? "The connection to the index database broke while a change was being committed (" + UnavailableCause(exception) + "): it may or may not have been made; send it again once the database is back"
            : "The index database does not answer (" + UnavailableCause(exception) + "): nothing was stored or changed; try again once it is back";

    private static T? Unwrap<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException) if (e is T found) return found;
        return null;
    }

    /// <summary>The database's or Npgsql's own words, rather than EF Core's wrapper's ("likely due to a transient failure").</summary>
    public static string UnavailableCause(Exception exception) => (Unwrap<Npgsql.NpgsqlException>(exception) ?? exception).Message;

    /// <summary>Whether a context runs on PostgreSQL (its SQL differs from SQLite's in a few places).</summary>
    public static bool IsPostgreSql(this Microsoft.EntityFrameworkCore.Infrastructure.DatabaseFacade database) =>
        database.ProviderName == "Npgsql.EntityFrameworkCore.PostgreSQL";
}
