using System.IO.Hashing;
using System.Text;

namespace OrthancWeb.Hosting;

/// <summary>
/// Who this server is among several sharing one index and one storage folder (Orthanc's DatabaseServerIdentifier):
/// the name its durability watermark is kept under, and a short tag that marks the partial and temporary files it
/// writes in the shared storage folder, so that another server's start-up check leaves them alone while it runs.
/// </summary>
public sealed class ServerIdentity
{
    public ServerIdentity(string identifier)
    {
        ArgumentException.ThrowIfNullOrEmpty(identifier);
        Identifier = identifier;
        var hash = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(identifier));
        LockKey = unchecked((long)hash);
        Tag = (hash >> 32).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
    }

    public string Identifier { get; }

    /// <summary>Eight hex digits, safe in a file name.</summary>
    public string Tag { get; }

    /// <summary>The PostgreSQL advisory lock a running server holds under its identifier.</summary>
    public long LockKey { get; }

    public static ServerIdentity Of(ServerOptions options, DataPaths paths) =>
        new(options.DatabaseServerIdentifier is { Length: > 0 } id ? id : $"{Environment.MachineName}:{paths.Root}");
}
