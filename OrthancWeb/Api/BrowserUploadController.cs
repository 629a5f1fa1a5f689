using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using OrthancWeb.Audit;
using OrthancWeb.Ingest;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// The upload page's files, sent by the browser straight over HTTP, several requests at a time (wwwroot/upload.js),
/// rather than through the Blazor circuit, which carried 5 MB/s. A request is one file (its bytes, named by ?name=) or
/// a batch of small files (multipart/form-data, one part per file, named by the part's filename): Chromium spends
/// about as much per request as per 8 MB sent, so a CD's 500 KB files went at 24 MB/s one per request and several
/// times faster in batches of up to 16 MB, whose next file is read while the last is made durable. Each file takes
/// the one upload path (<see cref="UploadService"/>), so it is durable and indexed before its answer, exactly as POST
/// /instances. A file's own failure (not DICOM, invalid, storage full) is its outcome in a 200 answer, so the page can
/// list it and go on; only a request the server could not handle at all is an error status, which the page retries.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.Modify)]
[Route("ui/upload/file")]
public sealed class BrowserUploadController(UploadService uploads) : ControllerBase
{
    /// <summary>Parts in one request: the page sends at most 64; each answer is held until the request ends, so a body
    /// of millions of empty parts must not grow it without bound.</summary>
    public const int MaximumParts = 1000;

    [HttpPost]
    [DisableRequestSizeLimit]
    public async Task<ActionResult<IReadOnlyList<BrowserUploadOutcome>>> Upload([FromQuery] string? name, CancellationToken ct)
    {
        var source = new IngestSource(IngestOrigin.WebUI, HttpContext.Connection.RemoteIpAddress?.ToString());
        // The browser's request is the page's doing: recorded as the UI's, with the signed-in user and address.
        using var actor = AuditActor.Enter((AuditActor.Current ?? new AuditActor(User.Identity?.Name, source.RemoteIp, AuditSources.Ui)) with { Source = AuditSources.Ui });
        if (!MediaTypeHeaderValue.TryParse(Request.ContentType, out var type) || !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            return Ok(await await ReceiveAsync(string.IsNullOrWhiteSpace(name) ? "upload" : name, Request.Body, source, ct));
        var boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value;
        if (string.IsNullOrEmpty(boundary)) return ApiJson.Error(HttpContext, 400, "multipart/form-data without a boundary");
        // Streamed part by part: each file goes to its incoming file as it arrives, never the whole batch in memory.
        // While one file is made durable and indexed, the next is read: the files of a batch would otherwise each
        // wait for their own commit in turn. The answer waits for them all.
        var reader = new MultipartReader(boundary, Request.Body);
        var files = new List<Task<IReadOnlyList<BrowserUploadOutcome>>>();
        var outcomes = 0; // a ZIP answers once per entry: what the answer will hold, not the parts
        try
        {
            while (await reader.ReadNextSectionAsync(ct) is { } section)
            {
                if (outcomes >= MaximumParts)
                {
                    await Task.WhenAll(files);
                    return ApiJson.Error(HttpContext, 400, $"More than {MaximumParts} files in one request; the ones before were stored (send the rest in another)");
                }
                var file = section.AsFileSection();
                var stored = await ReceiveAsync(file?.FileName is { Length: > 0 } n ? n : "upload", section.Body, source, ct);
                files.Add(stored);
                outcomes += stored.IsCompletedSuccessfully ? stored.Result.Count : 1;
                // Read ahead only within both bounds: this request's, and the server's across all requests; past
                // either, this file is finished before the next is read, as without read-ahead.
                if (!stored.IsCompleted)
                {
                    if (files.Count(f => !f.IsCompleted) > StoresInFlight || !ReadAhead.Wait(0, CancellationToken.None)) await stored;
                    else _ = stored.ContinueWith(_ => ReadAhead.Release(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
                // A store that failed (not a file's own refusal: the index or the disk) fails the request now, not
                // after reading the rest of it.
                if (files.Exists(f => f.IsFaulted)) break;
            }
        }
        catch
        {
            // The request failed (a broken body, the client gone): the files already read still finish before it
            // ends, so none is left half stored; the request's own error is what answers.
            try { await Task.WhenAll(files); } catch { }
            throw;
        }
        return Ok((await Task.WhenAll(files)).SelectMany(f => f).ToList());
    }

    /// <summary>
    /// Files of one request stored at once, read ahead of their commits: in the browser, a CD took 7.1-9.4 s with
    /// read-ahead and 8.5-10.2 s without (README). Each holds a finished incoming file and its head, no more.
    /// </summary>
    public const int StoresInFlight = 8;

    /// <summary>Stores read ahead across all requests of the server (one server per process): past it, a request's
    /// files are stored one after another.</summary>
    private static readonly SemaphoreSlim ReadAhead = new(32);

    /// <summary>Reads one file (or stores one ZIP) and returns what finishes it; a ZIP's refusal is its outcome.</summary>
    private async Task<Task<IReadOnlyList<BrowserUploadOutcome>>> ReceiveAsync(string name, Stream body, IngestSource source, CancellationToken ct)
    {
        try
        {
            return Answer(await uploads.ReceiveUploadAsync(name, body, source, ct));
        }
        catch (ZipLimitException ex)
        {
            return Task.FromResult<IReadOnlyList<BrowserUploadOutcome>>([new BrowserUploadOutcome(name, nameof(IngestStatus.Invalid), ex.Message, null)]);
        }
        catch (InvalidDataException ex)
        {
            return Task.FromResult<IReadOnlyList<BrowserUploadOutcome>>([new BrowserUploadOutcome(name, nameof(IngestStatus.Invalid), "Corrupt ZIP archive: " + ex.Message, null)]);
        }

        static async Task<IReadOnlyList<BrowserUploadOutcome>> Answer(Task<IReadOnlyList<UploadOutcome>> stored) =>
            [.. (await stored).Select(o => new BrowserUploadOutcome(o.Name, o.Status, o.Reason, o.Result?.InstanceId))];
    }
}
