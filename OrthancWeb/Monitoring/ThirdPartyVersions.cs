using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Index;

namespace OrthancWeb.Monitoring;

/// <summary>
/// /system's "ThirdPartyVersions" (Orthanc 1.13.0, ThirdPartyVersions.cpp: an object of library name, in lower case, to
/// its version string): the libraries this server runs on, each version read from the library loaded at run time
/// (assembly informational versions, the native libraries' own version functions, the database servers'), never
/// written down here. A library whose version cannot be read (a codec not installed) is left out. Computed once: the
/// libraries loaded do not change while the process runs, and /system must stay fast.
/// </summary>
public sealed partial class ThirdPartyVersions
{
    private readonly IDbContextFactory<IndexDbContext> _contexts;
    private readonly ILogger<ThirdPartyVersions> _logger;
    private readonly Lazy<Task<IReadOnlyDictionary<string, string>>> _versions;

    public ThirdPartyVersions(IDbContextFactory<IndexDbContext> contexts, ILogger<ThirdPartyVersions> logger)
    {
        _contexts = contexts;
        _logger = logger;
        // Read once, by the first caller; a failure to read one library leaves that library out, it is never thrown.
        _versions = new(() => ReadAsync(CancellationToken.None));
    }

    public Task<IReadOnlyDictionary<string, string>> GetAsync(CancellationToken ct) => _versions.Value.WaitAsync(ct);

    private async Task<IReadOnlyDictionary<string, string>> ReadAsync(CancellationToken ct)
    {
        var versions = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["aspnetcore"] = InformationalVersion(typeof(WebApplication).Assembly),
            ["dotnet"] = Environment.Version.ToString(),
            ["efcore"] = InformationalVersion(typeof(DbContext).Assembly),
            ["keralua"] = InformationalVersion(typeof(KeraLua.Lua).Assembly),
            ["mudblazor"] = InformationalVersion(typeof(MudBlazor.MudButton).Assembly),
            ["npgsql"] = InformationalVersion(typeof(Npgsql.NpgsqlConnection).Assembly),
            // Our DICOM toolkit stands where Orthanc reports DCMTK.
            ["orthancweb-dicom"] = InformationalVersion(typeof(Dicom.Data.DicomTag).Assembly),
            ["sqlite"] = SqliteVersion(),
        };
        Add(versions, "charls", CharLsVersion);
        Add(versions, "lua", LuaVersion);
        Add(versions, "openjpeg", OpenJpegVersion);
        Add(versions, "openssl", OpenSslVersion);
        try
        {
            await using var db = await _contexts.CreateDbContextAsync(ct);
            if (db.Database.IsPostgreSql())
            {
                // Opened and closed through EF, so that the pooled context gives its connection back.
                await db.Database.OpenConnectionAsync(ct);
                try
                {
                    // server_version, "15.18 (Debian 15.18-0+deb12u1)": the version alone, as the other libraries'.
                    versions["postgresql"] = db.Database.GetDbConnection().ServerVersion.Split(' ')[0];
                }
                finally
                {
                    await db.Database.CloseConnectionAsync();
                }
            }
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
        {
            NoPostgreSqlVersion(ex);
        }
        return versions;
    }

    private void Add(SortedDictionary<string, string> versions, string name, Func<string?> read)
    {
        try
        {
            if (read() is { Length: > 0 } version) versions[name] = version;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or PlatformNotSupportedException or BadImageFormatException)
        {
            NoVersion(ex, name);
        }
    }

    /// <summary>The package's version ("10.0.12"), without the source revision NuGet builds append after '+'.</summary>
    private static string InformationalVersion(Assembly assembly)
    {
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString() ?? "";
        return version.Split('+')[0];
    }

    /// <summary>The engine Microsoft.Data.Sqlite loaded (sqlite3_libversion), the one the index and the audit trail use.</summary>
    private static string SqliteVersion()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        return connection.ServerVersion;
    }

    /// <summary>lua_ident, "$LuaVersion: Lua 5.4.9  Copyright ...", of the native library KeraLua loads (lua_version gives 504 only).</summary>
    private static string? LuaVersion()
    {
        if (!NativeLibrary.TryLoad("lua54", typeof(KeraLua.Lua).Assembly, null, out var library)
            || !NativeLibrary.TryGetExport(library, "lua_ident", out var ident))
            return null;
        var text = Marshal.PtrToStringAnsi(ident) ?? "";
        const string Prefix = "$LuaVersion: Lua ";
        var start = text.IndexOf(Prefix, StringComparison.Ordinal);
        if (start < 0) return null;
        var version = text[(start + Prefix.Length)..];
        var end = version.IndexOf(' ', StringComparison.Ordinal);
        return end < 0 ? version : version[..end];
    }

    private static string? CharLsVersion() =>
        Dicom.Imaging.JpegLsCodec.IsAvailable ? Marshal.PtrToStringAnsi(charls_get_version_string()) : null;

    private static string? OpenJpegVersion() =>
        Dicom.Imaging.Jpeg2000Codec.IsAvailable ? Marshal.PtrToStringAnsi(opj_version()) : null;

    /// <summary>
    /// The OpenSSL .NET's cryptography is linked against at run time, from its OPENSSL_VERSION_NUMBER: 0xMNN00PP0 since
    /// OpenSSL 3.0, 0xMNNFFPPS before (major, minor, fix, patch letter, status).
    /// </summary>
    private static string? OpenSslVersion()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsFreeBSD()) return null;
        var n = SafeEvpPKeyHandle.OpenSslVersion;
        var major = (n >> 28) & 0xF;
        var minor = (n >> 20) & 0xFF;
        if (major >= 3) return string.Create(CultureInfo.InvariantCulture, $"{major}.{minor}.{(n >> 4) & 0xFF}");
        var letter = (n >> 4) & 0xFF;
        return string.Create(CultureInfo.InvariantCulture,
            $"{major}.{minor}.{(n >> 12) & 0xFF}{(letter is > 0 and <= 26 ? ((char)('a' + letter - 1)).ToString() : "")}");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The PostgreSQL server's version could not be read for /system")]
    private partial void NoPostgreSqlVersion(Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "No version of {Library} for /system")]
    private partial void NoVersion(Exception exception, string library);

    [DllImport("libcharls.so.2")] private static extern IntPtr charls_get_version_string();
    [DllImport("libopenjp2.so.7")] private static extern IntPtr opj_version();
}
