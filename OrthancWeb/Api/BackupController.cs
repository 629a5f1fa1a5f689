using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Backup;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>The body of POST /tools/backup: the folder (on the server) to write the backup into, new or empty.</summary>
public sealed record BackupRequest(string Path);

/// <summary>
/// POST /tools/backup: an online backup of index, stored files, audit trail and accounts into a folder of the server,
/// answered once written with its manifest (without the file list, which stays in the folder's manifest.json).
/// Administrators only; audited by the service. Orthanc has no such route: its Book's backup advice is to copy the
/// storage folder and the database with the server stopped.
/// </summary>
[ApiController]
[Route("tools")]
public sealed class BackupController(BackupService backups, IHostApplicationLifetime lifetime) : ControllerBase
{
    /// <remarks>
    /// Not cancelled with the request: a client or proxy that gives up waiting (nginx's 60 s read timeout) would otherwise
    /// stop a long backup half way. It stops only with the server.
    /// </remarks>
    [HttpPost("backup")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Create([FromBody] BackupRequest request) =>
        Ok((await backups.CreateAsync(request.Path, lifetime.ApplicationStopping)).Summary());
}
