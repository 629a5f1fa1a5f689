using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Audit;
using OrthancWeb.Hosting;

namespace OrthancWeb.Tests.Audit;

/// <summary>The audit trail as the server registers it (AddAudit), on its own data folder, with a clock of the test's choosing.</summary>
public sealed class AuditHost : IAsyncDisposable
{
    private AuditHost(string folder, ServiceProvider services) => (Folder, Services) = (folder, services);

    public string Folder { get; }
    public ServiceProvider Services { get; }
    public IAuditTrail Trail => Services.GetRequiredService<IAuditTrail>();
    public AuditTrail Queue => Services.GetRequiredService<AuditTrail>();
    public AuditWriter Writer => Services.GetRequiredService<AuditWriter>();
    public AuditQueries Queries => Services.GetRequiredService<AuditQueries>();
    public string DatabaseFile => Path.Combine(Folder, "db", "audit.db");

    public static async Task<AuditHost> StartAsync(Dictionary<string, string?>? settings = null, TimeProvider? time = null, string? folder = null, bool start = true)
    {
        folder ??= Directory.CreateTempSubdirectory("ow-audit-").FullName;
        var paths = new DataPaths(folder);
        paths.CreateAll();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(paths);
        services.AddSingleton(time ?? TimeProvider.System);
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings ?? []).Build());
        services.AddAudit();
        var host = new AuditHost(folder, services.BuildServiceProvider());
        if (start) await host.Writer.StartAsync(CancellationToken.None);
        return host;
    }

    /// <summary>Stops the writer (flushing what is queued) and releases the database, keeping the folder.</summary>
    public async Task StopAsync()
    {
        await Writer.StopAsync(CancellationToken.None);
        await Services.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    /// <summary>Runs SQL on audit.db behind the trail's back, as someone with access to the file could.</summary>
    public async Task TamperAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabaseFile};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try { await Services.DisposeAsync(); } catch (ObjectDisposedException) { }
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}
