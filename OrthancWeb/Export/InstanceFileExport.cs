using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Explorer;
using OrthancWeb.Hosting;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Export;

public enum FileExportOutcome { Written, Disabled, UnknownInstance }

/// <summary>A stored file could not be written where a request asked (Orthanc's "Cannot write to file", code 14).</summary>
public sealed class FileExportException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// POST /instances/{id}/export: an instance's file, as stored (decompressed), written to a path on the server's own
/// file system, for scripts that hand files to another program on the same host. Off unless
/// <see cref="ExportOptions.RestApiWriteToFileSystemEnabled"/>, as in Orthanc, whose log calls such a setup "possibly
/// insecure": the server's account writes wherever the request says. Hence two limits of ours: administrators only,
/// and never into the data directory (the index and the storage area would be a request away from corruption).
/// </summary>
public sealed class InstanceFileExport(IndexQueries queries, InstanceFiles files, IOptionsMonitor<ExportOptions> options, DataPaths paths, IAuditTrail audit)
{
    public async Task<FileExportOutcome> WriteAsync(string instanceId, string path, CancellationToken ct)
    {
        if (!options.CurrentValue.RestApiWriteToFileSystemEnabled) return FileExportOutcome.Disabled;
        Caller.Demand(Policies.Administer, "write files to the server's file system");
        var instance = await queries.GetAsync(instanceId, ResourceLevel.Instance, ct);
        if (instance?.File is not { } file) return FileExportOutcome.UnknownInstance;
        string target;
        try { target = Path.GetFullPath(path); }
        catch (ArgumentException ex) { throw new FileExportException($"Not a path: \"{path}\"", ex); }
        var data = Path.GetFullPath(paths.Root) + Path.DirectorySeparatorChar;
        if ((target + Path.DirectorySeparatorChar).StartsWith(data, StringComparison.Ordinal))
            throw new FileExportException($"{target} is inside the server's data directory");
        try
        {
            await using var source = files.Open(file);
            await using var destination = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await source.CopyToAsync(destination, ct);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            audit.Record(ResourceAudit.For(AuditActions.Export, instance, outcome: AuditOutcome.MinorFailure, details: $"to {target}: {ex.Message}"));
            throw new FileExportException($"Cannot write {target}: {ex.Message}", ex);
        }
        audit.Record(ResourceAudit.For(AuditActions.Export, instance, details: $"to {target}"));
        return FileExportOutcome.Written;
    }
}

/// <summary>Says at start-up, as Orthanc does, that REST requests can write to the file system.</summary>
public sealed partial class FileSystemExportNotice(IOptions<ExportOptions> options, ILogger<FileSystemExportNotice> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.RestApiWriteToFileSystemEnabled) LogEnabled(logger);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(LogLevel.Warning, "RestApiWriteToFileSystemEnabled: administrators can write stored files anywhere the server's account may write (POST /instances/{{id}}/export)")]
    private static partial void LogEnabled(ILogger logger);
}
