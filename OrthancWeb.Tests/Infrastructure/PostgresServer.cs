using Npgsql;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL from Debian's packages, one per test run: initdb into a temporary folder as the unprivileged
/// 'postgres' user (the server refuses to run as root, and CI runs as root), started on a free loopback port, stopped
/// and removed when the test process ends. Each user of it gets a database of its own (<see cref="CreateDatabaseAsync"/>).
/// </summary>
public sealed class PostgresServer
{
    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(() => Task.Run(Start));

    /// <summary>The run's server, started on first use.</summary>
    public static Task<PostgresServer> Shared => SharedServer.Value;

    private readonly string _folder;
    private readonly string _user;

    public int Port { get; }

    private PostgresServer(string folder, string user, int port) => (_folder, _user, Port) = (folder, user, port);

    private string Data => Path.Combine(_folder, "data");

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=30;Command Timeout=120";

    /// <summary>A new empty database; the caller drops it with <see cref="DropDatabaseAsync"/>.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "ow_" + Guid.NewGuid().ToString("N")[..16];
        await ExecuteAsync($"CREATE DATABASE {name}");
        return ConnectionString(name);
    }

    public async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        // Pooled connections of the server under test may still be open: FORCE ends them (PostgreSQL 13+).
        await ExecuteAsync($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Debian installs the server's programs under /usr/lib/postgresql/{major}/bin, off PATH.</summary>
    public static string Program(string name)
    {
        var versions = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [];
        return versions.OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var major) ? major : 0)
                .Select(d => Path.Combine(d, "bin", name)).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"PostgreSQL's '{name}' is required by this test and was not found: apt-get install -y postgresql");
    }

    /// <summary>A server of the caller's own, for a test that stops and starts it (the shared one serves tests running alongside).</summary>
    public static Task<PostgresServer> StartOwnAsync() => Task.Run(Start);

    private static PostgresServer Start()
    {
        // Not root: a user the server may run as. Debian's package creates 'postgres'.
        var user = Peers.Run("id", "-u", "postgres").ExitCode == 0 ? "postgres" : "nobody";
        var folder = Directory.CreateTempSubdirectory("ow-pg-").FullName;
        Chown(folder, user);
        var server = new PostgresServer(folder, user, ServerProcess.FreePort());
        server.RunAsUser(Program("initdb"), "-D", server.Data, "-U", "postgres", "-A", "trust", "-E", "UTF8");
        // -w: pg_ctl returns once the server accepts connections. The socket goes in the folder, not /run/postgresql.
        server.StartServer();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Stop();
        return server;
    }

    /// <summary>Starts the server (again, after <see cref="StopServer"/>); returns once it accepts connections.</summary>
    public void StartServer() =>
        RunAsUser(Program("pg_ctl"), "-D", Data, "-l", Path.Combine(_folder, "log"), "-w", "-t", "60", "start",
            "-o", $"-p {Port} -k {_folder} -c listen_addresses=127.0.0.1 -c max_connections=300");

    /// <summary>Stops the server as an administrator's restart would ("fast": every session is ended, its locks released).</summary>
    public void StopServer() => RunAsUser(Program("pg_ctl"), "-D", Data, "-w", "-t", "30", "-m", "fast", "stop");

    /// <summary>Stops the server and removes its folder; again at the test process's exit, when it is already gone.</summary>
    public void Stop()
    {
        try { if (File.Exists(Path.Combine(Data, "postmaster.pid"))) StopServer(); }
        finally { if (Directory.Exists(_folder)) Directory.Delete(_folder, true); }
    }

    private void RunAsUser(string program, params string[] args)
    {
        var result = Peers.Run("runuser", ["-u", _user, "--", program, .. args]);
        if (result.ExitCode != 0)
        {
            var log = Path.Combine(_folder, "log");
            throw new InvalidOperationException($"{Path.GetFileName(program)} failed ({result.ExitCode}): {result.Stderr}{result.Stdout}" +
                (File.Exists(log) ? File.ReadAllText(log) : ""));
        }
    }

    private static void Chown(string folder, string user)
    {
        var result = Peers.Run("chown", user, folder);
        if (result.ExitCode != 0) throw new InvalidOperationException($"chown {user} {folder}: {result.Stderr}");
    }
}
