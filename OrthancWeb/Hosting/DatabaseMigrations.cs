using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace OrthancWeb.Hosting;

public static class DatabaseMigrations
{
    /// <summary>
    /// Applies the migrations this release has and the database has not; does nothing when it has them all, which is
    /// every start but the first and an upgrade's. EF Core's <c>Migrate</c> would otherwise, even with nothing to apply,
    /// build the design-time model and the migrations' snapshot model and compare them (its guard against a model
    /// changed without a migration, EF Core 9+): measured, a third of the server's CPU before its first answer
    /// (issue 21). That guard still runs on every new database, so on every test server.
    /// </summary>
    public static async Task MigrateIfBehindAsync(this DatabaseFacade database, CancellationToken ct = default)
    {
        if ((await database.GetPendingMigrationsAsync(ct)).Any())
            await database.MigrateAsync(ct);
    }
}
