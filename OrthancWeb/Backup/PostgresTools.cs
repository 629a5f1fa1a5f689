using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;

namespace OrthancWeb.Backup;

/// <summary>
/// PostgreSQL's own client programs (pg_dump, pg_restore), run as child processes: found on PATH or where Debian and
/// Ubuntu install them (/usr/lib/postgresql/{major}/bin, the newest first, since pg_dump refuses a server newer than
/// itself), given the index's connection as a libpq connection string, and its password through PGPASSWORD, never on
/// the command line where every user of the machine can read it (https://www.postgresql.org/docs/15/libpq-envars.html).
/// </summary>
internal static class PostgresTools
{
    /// <summary>The program's full path; a <see cref="BackupNotSupportedException"/> naming the package when it is nowhere.</summary>
    public static string Find(string name)
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name));
        var debian = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var major) ? major : 0)
                .Select(d => Path.Combine(d, "bin", name))
            : [];
        return onPath.Concat(debian).FirstOrDefault(File.Exists)
            ?? throw new BackupNotSupportedException(
                $"PostgreSQL's {name} was found neither on PATH nor under /usr/lib/postgresql/*/bin: the index is on PostgreSQL and its backup " +
                $"and restore use {name}. Install PostgreSQL's client programs (Debian, Ubuntu: apt-get install postgresql-client), " +
                "of the server's major version or newer");
    }

    /// <summary>
    /// The libpq connection string (https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNSTRING) for an Npgsql
    /// one, without its password, and the environment that carries the password (PGPASSWORD) or the password file.
    /// </summary>
    public static (string ConnInfo, Dictionary<string, string> Environment) Connection(string npgsqlConnectionString)
    {
        NpgsqlConnectionStringBuilder npgsql;
        try { npgsql = new NpgsqlConnectionStringBuilder(npgsqlConnectionString); }
        catch (ArgumentException ex) { throw new BackupException($"The index connection string is not one Npgsql reads: {ex.Message}", ex); }
        var parts = new List<(string Key, string? Value)>
        {
            ("host", npgsql.Host),
            ("port", npgsql.Port.ToString(CultureInfo.InvariantCulture)),
            ("user", npgsql.Username),
            ("dbname", npgsql.Database),
            ("connect_timeout", npgsql.Timeout > 0 ? npgsql.Timeout.ToString(CultureInfo.InvariantCulture) : null),
            ("sslmode", npgsql.SslMode switch
            {
                SslMode.Disable => "disable",
                SslMode.Allow => "allow",
                SslMode.Require => "require",
                SslMode.VerifyCA => "verify-ca",
                SslMode.VerifyFull => "verify-full",
                _ => "prefer",
            }),
            ("sslrootcert", npgsql.RootCertificate),
            ("sslcert", npgsql.SslCertificate),
            ("sslkey", npgsql.SslKey),
            ("application_name", "OrthancWeb backup"),
        };
        var conninfo = string.Join(' ', parts.Where(p => !string.IsNullOrEmpty(p.Value)).Select(p => $"{p.Key}={Quote(p.Value!)}"));
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!string.IsNullOrEmpty(npgsql.Password)) environment["PGPASSWORD"] = npgsql.Password;
        if (!string.IsNullOrEmpty(npgsql.Passfile)) environment["PGPASSFILE"] = npgsql.Passfile;
        return (conninfo, environment);
    }

    /// <summary>libpq's quoting: a value in single quotes, its quotes and backslashes escaped with a backslash.</summary>
    private static string Quote(string value) => "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    /// <summary>Runs a program to its end; a <see cref="BackupException"/> with what it wrote on stderr when it fails.</summary>
    public static async Task RunAsync(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // never a terminal to prompt on (and --no-password besides)
        };
        foreach (var argument in arguments) psi.ArgumentList.Add(argument);
        foreach (var (key, value) in environment) psi.Environment[key] = value;
        using var process = Process.Start(psi) ?? throw new BackupException($"{program} could not be started");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try { await process.WaitForExitAsync(ct); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        var output = new StringBuilder().Append(await stderr).Append(await stdout).ToString().Trim();
        if (process.ExitCode != 0)
            throw new BackupException($"{Path.GetFileName(program)} failed (exit code {process.ExitCode}): " +
                (output.Length > 2000 ? "..." + output[^2000..] : output));
    }
}
