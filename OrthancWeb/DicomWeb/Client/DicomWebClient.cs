using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Network;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Security;

namespace OrthancWeb.DicomWeb.Client;

/// <summary>One study, series or instance of a remote server, by its UIDs (Orthanc's retrieve "Resources" item).</summary>
public sealed record DicomWebResource
{
    public required string Study { get; init; }
    public string? Series { get; init; }
    public string? Instance { get; init; }

    /// <summary>The WADO-RS path of the resource (PS3.18 10.4.1: studies/{s}[/series/{se}[/instances/{i}]]).</summary>
    [JsonIgnore]
    public string Path
    {
        get
        {
            if (Instance is not null && Series is null) throw new Dicom.DicomValidationException("An Instance needs its Series");
            foreach (var uid in new[] { Study, Series, Instance })
                if (uid is not null && !DicomWebClient.IsUid(uid)) throw new Dicom.DicomValidationException($"\"{uid}\" is not a UID");
            return "studies/" + Study + (Series is null ? "" : "/series/" + Series) + (Instance is null ? "" : "/instances/" + Instance);
        }
    }
}

/// <summary>What a WADO-RS retrieve brought into our store.</summary>
public sealed record DicomWebRetrieveResult(int Received, int Stored, int AlreadyStored, IReadOnlyList<string> Failures, IReadOnlyList<string> StudyIds);

/// <summary>What a STOW-RS send achieved, per our instance IDs (Orthanc's /modalities/{id}/store answer shape).</summary>
public sealed record DicomWebStowResult(int InstancesCount, int FailedInstancesCount, IReadOnlyList<string> FailedInstances, IReadOnlyList<string> Failures);

/// <summary>
/// The client side of DICOMweb (PS3.18) on the configured remote servers: QIDO-RS queries, WADO-RS retrieval into our
/// store (every part through the one ingest path) and STOW-RS sends of our instances, shared by the REST API, the UI,
/// the jobs and the routing rules. A remote is not trusted: every answer is bounded in size and in time, no redirect
/// is followed (it would take the credentials elsewhere), and a request never leaves the server's configured Url.
/// </summary>
public sealed partial class DicomWebClient(DicomWebServerRegistry registry, IHttpClientFactory httpClients, IOptionsMonitor<DicomWebClientOptions> options,
    IngestService ingest, IndexQueries queries, InstanceFiles files, IAuditTrail audit, TimeProvider time, ILogger<DicomWebClient> logger)
{
    /// <summary>The named HttpClient: the factory's pooled handlers, configured once in the registration (no redirects).</summary>
    public const string HttpClientName = "DicomWebClient";

    private const string DicomJson = "application/dicom+json";
    private const long MB = 1024 * 1024;

    public DicomWebServerRegistry Registry => registry;

    [GeneratedRegex(@"^[0-9]+(\.[0-9]+)*$")]
    private static partial Regex UidPattern();

    /// <summary>A UID as PS3.5 9.1 has it: digits and dots, at most 64 characters (so it cannot change a URL's path).</summary>
    public static bool IsUid(string s) => s.Length is > 0 and <= 64 && UidPattern().IsMatch(s);

    // ---------------------------------------------------------------- QIDO-RS and plain GET

    /// <summary>
    /// A QIDO-RS search (PS3.18 10.6): GET {Url}{uri}?{arguments} with Accept application/dicom+json; the remote's
    /// DICOM JSON array (PS3.18 F.2) as it came, after checking that it is one.
    /// </summary>
    public async Task<JsonArray> QidoAsync(string serverName, string uri, IReadOnlyDictionary<string, string>? arguments, CancellationToken ct)
    {
        Caller.Demand(Policies.View, "query DICOMweb servers");
        var server = registry.Get(serverName);
        var path = uri.Trim().TrimStart('/');
        if (!Regex.IsMatch(path, @"^(studies(/[0-9.]+(/series(/[0-9.]+)?)?)?/)?(studies|series|instances)$") && path is not ("studies" or "series" or "instances"))
            throw new Dicom.DicomValidationException($"\"{uri}\" is not a QIDO-RS resource (PS3.18 10.6.1: /studies, /series, /instances, /studies/{{uid}}/series, ...)");
        var (status, _, body) = await GetBoundedAsync(serverName, server, path, arguments, DicomJson, ct);
        // 204 No Content: nothing matched (PS3.18 10.6.3.2).
        var answers = status == HttpStatusCode.NoContent || body.Length == 0 ? [] : ParseJson(serverName, body) as JsonArray
            ?? throw new DicomWebRemoteException(serverName, $"DICOMweb server {serverName} answered the QIDO-RS search with JSON that is not an array");
        audit.Record(new AuditEvent(AuditActions.Query, AuditOutcome.Success)
        {
            PatientId = Argument(arguments, "00100020", "PatientID"),
            StudyInstanceUid = Argument(arguments, "0020000D", "StudyInstanceUID"),
            Details = $"QIDO-RS {path} at DICOMweb server {serverName}: {answers.Count} answer(s)",
        });
        return answers;
    }

    /// <summary>Any GET under the server's Url (Orthanc's /get: metadata, rendered...), its answer bounded as JSON answers are.</summary>
    public async Task<(string ContentType, byte[] Body)> GetAsync(string serverName, string uri, IReadOnlyDictionary<string, string>? arguments, CancellationToken ct)
    {
        Caller.Demand(Policies.View, "read from DICOMweb servers");
        var server = registry.Get(serverName);
        var path = uri.Trim().TrimStart('/');
        var (_, remoteType, body) = await GetBoundedAsync(serverName, server, path, arguments, "*/*", ct);
        // Served from our origin: a remote's HTML or script must not run as ours. What DICOMweb answers passes as it is.
        var media = remoteType.Split(';')[0].Trim().ToLowerInvariant();
        var contentType = media.StartsWith("image/", StringComparison.Ordinal) || media.StartsWith("multipart/related", StringComparison.Ordinal)
            || media is "application/dicom+json" or "application/json" or "application/dicom" or "application/octet-stream" or "application/dicom+xml"
            ? remoteType : "application/octet-stream";
        audit.Record(new AuditEvent(AuditActions.Query, AuditOutcome.Success)
        {
            Details = $"GET {path} at DICOMweb server {serverName}: {body.Length} bytes",
        });
        return (contentType, body);
    }

    /// <summary>A small QIDO-RS (one study at most) that says whether the server answers, as C-ECHO does for a modality.</summary>
    public async Task<int> EchoAsync(string serverName, CancellationToken ct) =>
        (await QidoAsync(serverName, "/studies", new Dictionary<string, string> { ["limit"] = "1" }, ct)).Count;

    private async Task<(HttpStatusCode Status, string ContentType, byte[] Body)> GetBoundedAsync(string name, DicomWebServerOptions server, string path,
        IReadOnlyDictionary<string, string>? arguments, string accept, CancellationToken ct)
    {
        using var request = Request(name, server, HttpMethod.Get, path, arguments);
        request.Headers.Accept.ParseAdd(accept);
        using var timeout = Timeout(server, ct);
        try
        {
            using var response = await SendAsync(name, server, request, timeout.Token);
            var body = await ReadBoundedAsync(name, response.Content, options.CurrentValue.DicomWebClientMaximumJsonSize * MB, timeout.Token, touch: timeout.Touch);
            return (response.StatusCode, response.Content.Headers.ContentType?.ToString() ?? "application/octet-stream", body);
        }
        catch (OperationCanceledException) when (timeout.TimedOut && !ct.IsCancellationRequested)
        {
            throw TimedOut(name, server);
        }
    }

    // ---------------------------------------------------------------- WADO-RS retrieve

    /// <summary>
    /// Retrieves a study, series or instance (PS3.18 10.4) into our store: the multipart/related answer is read part by
    /// part as it arrives, each part spooled to disk through the ingest path (never held whole in memory). A part that
    /// is cut short, too large or not DICOM is not stored; instances that arrived whole before it are.
    /// </summary>
    public async Task<DicomWebRetrieveResult> RetrieveAsync(string serverName, DicomWebResource resource, IProgress<int>? received, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "retrieve from DICOMweb servers");
        var server = registry.Get(serverName);
        var path = resource.Path;
        using var request = Request(serverName, server, HttpMethod.Get, path, null);
        // PS3.18 8.7.3.5.2: transfer-syntax=* asks for the instances as stored, with no transcoding on either side.
        request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("multipart/related; type=\"application/dicom\"; transfer-syntax=*"));
        using var timeout = Timeout(server, ct);
        int count = 0, stored = 0, already = 0;
        var failures = new List<string>();
        var studies = new HashSet<string>();
        string? patientId = null;
        try
        {
            using var response = await SendAsync(serverName, server, request, timeout.Token);
            var boundary = MultipartBoundary(serverName, response.Content.Headers.ContentType);
            await using var stream = new ActivityStream(await response.Content.ReadAsStreamAsync(timeout.Token), timeout.Touch);
            var reader = new MultipartReader(boundary, stream)
            {
                HeadersCountLimit = 16,
                HeadersLengthLimit = 16 * 1024,
                BodyLengthLimit = options.CurrentValue.DicomWebClientMaximumPartSize * MB,
            };
            // Orthanc records what its DICOMweb plugin retrieves with the Origin "Plugins"; the server's name says which remote.
            var source = new IngestSource(IngestOrigin.Plugins) { Metadata = [("DicomWebServer", serverName)] };
            while (await reader.ReadNextSectionAsync(timeout.Token) is { } section)
            {
                count++;
                if (section.ContentType is { } partType && !partType.StartsWith("application/dicom", StringComparison.OrdinalIgnoreCase))
                {
                    failures.Add($"part {count} is {partType}, not application/dicom");
                    await section.Body.CopyToAsync(Stream.Null, timeout.Token); // read past it, within the part limit
                    continue;
                }
                var spool = await ingest.ReceiveAsync(section.Body, timeout.Token);
                var result = await ingest.StoreSpooledAsync(spool, source, timeout.Token);
                switch (result.Status)
                {
                    case IngestStatus.Success: stored++; break;
                    case IngestStatus.AlreadyStored: already++; break;
                    case IngestStatus.StorageFull: throw new InvalidOperationException($"our storage is full: {result.Reason}");
                    default: failures.Add($"part {count}: {result.Reason}"); break;
                }
                if (result.StudyId is { } study) studies.Add(study);
                patientId ??= result.DicomPatientId;
                received?.Report(count);
            }
        }
        catch (OperationCanceledException) when (timeout.TimedOut && !ct.IsCancellationRequested)
        {
            throw Recorded(TimedOut(serverName, server));
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException && ex is not DicomWebRemoteException)
        {
            // MultipartReader's words for a body cut short, a boundary never closed or a part past its limit.
            throw Recorded(new DicomWebRemoteException(serverName, $"DICOMweb server {serverName} sent a broken WADO-RS answer after {stored + already} instance(s): {ex.Message}"));
        }
        catch (DicomWebRemoteException ex)
        {
            throw Recorded(ex);
        }
        Record(failures.Count == 0 ? AuditOutcome.Success : AuditOutcome.MinorFailure,
            $"WADO-RS {path} from DICOMweb server {serverName}: {stored} stored, {already} already there, {failures.Count} refused");
        return new DicomWebRetrieveResult(count, stored, already, failures, studies.ToList());

        Exception Recorded(Exception ex)
        {
            Record(AuditOutcome.SeriousFailure, $"WADO-RS {path} from DICOMweb server {serverName} failed after {stored + already} instance(s): {ex.Message}");
            return ex;
        }

        void Record(AuditOutcome outcome, string details) => audit.Record(new AuditEvent(AuditActions.Retrieve, outcome)
        {
            PatientId = patientId,
            StudyInstanceUid = resource.Study,
            ResourceLevel = resource.Instance is not null ? "Instance" : resource.Series is not null ? "Series" : "Study",
            Details = details,
        });
    }

    private static string MultipartBoundary(string name, MediaTypeHeaderValue? contentType)
    {
        if (contentType is null || !contentType.MediaType!.Equals("multipart/related", StringComparison.OrdinalIgnoreCase))
            throw new DicomWebRemoteException(name, $"DICOMweb server {name} answered {contentType?.MediaType ?? "without a Content-Type"}, not multipart/related");
        var boundary = contentType.Parameters.FirstOrDefault(p => p.Name.Equals("boundary", StringComparison.OrdinalIgnoreCase))?.Value?.Trim('"');
        // RFC 2046 5.1.1: 1 to 70 characters.
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 70)
            throw new DicomWebRemoteException(name, $"DICOMweb server {name} answered multipart/related without a valid boundary");
        return boundary;
    }

    // ---------------------------------------------------------------- STOW-RS

    /// <summary>
    /// Sends every instance under the given resources (PS3.18 10.5): POST {Url}/studies with multipart/related;
    /// type="application/dicom", each stored file streamed as it is (byte for byte), in batches of
    /// DicomWebClientStowBatchSize. An instance counts as sent only when the answer's ReferencedSOPSequence names it.
    /// </summary>
    public async Task<DicomWebStowResult> StowAsync(string serverName, IEnumerable<string> resourceIds, IProgress<double>? progress, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "send to DICOMweb servers");
        var server = registry.Get(serverName);
        var instances = new List<(string Id, AttachmentInfo File)>();
        var seen = new HashSet<string>();
        foreach (var id in resourceIds)
        {
            var found = await queries.InstanceFilesAsync(id, ct);
            if (found.Count == 0 && await queries.GetAsync(id, null, ct) is null) throw new KeyNotFoundException($"Unknown resource: {id}");
            instances.AddRange(found.Where(f => seen.Add(f.InstanceId)));
        }
        var failed = new List<string>();
        var reasons = new List<string>();
        var batchSize = options.CurrentValue.DicomWebClientStowBatchSize;
        string? patientId = null, studyUid = null;
        try
        {
            for (var start = 0; start < instances.Count; start += batchSize)
            {
                var batch = instances.Skip(start).Take(batchSize).ToList();
                var tags = await queries.TagsWithAncestorsAsync(batch.Select(b => b.Id).ToList(), ct);
                var uids = batch.ToDictionary(b => b.Id, b => tags.GetValueOrDefault(b.Id)?.GetValueOrDefault(DicomTags.SOPInstanceUID) ?? "");
                patientId ??= tags.Values.Select(t => t.GetValueOrDefault(DicomTags.PatientID)).FirstOrDefault(p => !string.IsNullOrEmpty(p));
                studyUid ??= tags.Values.Select(t => t.GetValueOrDefault(DicomTags.StudyInstanceUID)).FirstOrDefault(p => !string.IsNullOrEmpty(p));
                var (batchFailed, batchReasons) = await StowBatchAsync(serverName, server, batch, uids, ct);
                failed.AddRange(batchFailed);
                reasons.AddRange(batchReasons);
                progress?.Report(100.0 * Math.Min(instances.Count, start + batchSize) / instances.Count);
            }
        }
        catch (DicomWebRemoteException ex)
        {
            Record(AuditOutcome.SeriousFailure, $"STOW-RS to DICOMweb server {serverName} failed: {ex.Message}");
            throw;
        }
        Record(failed.Count == 0 ? AuditOutcome.Success : AuditOutcome.MinorFailure,
            $"STOW-RS of {instances.Count - failed.Count} of {instances.Count} instance(s) to DICOMweb server {serverName} at {server.Url}");
        return new DicomWebStowResult(instances.Count, failed.Count, failed, reasons);

        void Record(AuditOutcome outcome, string details) => audit.Record(new AuditEvent(AuditActions.Send, outcome)
        {
            PatientId = patientId,
            StudyInstanceUid = studyUid,
            ResourceLevel = "Instance",
            ResourceId = string.Join(',', instances.Select(i => i.Id).Take(20)),
            Details = details,
        });
    }

    private async Task<(List<string> Failed, List<string> Reasons)> StowBatchAsync(string name, DicomWebServerOptions server,
        List<(string Id, AttachmentInfo File)> batch, Dictionary<string, string> uids, CancellationToken ct)
    {
        using var request = Request(name, server, HttpMethod.Post, "studies", null);
        request.Headers.Accept.ParseAdd(DicomJson);
        using var timeout = Timeout(server, ct);
        request.Content = new StowContent(batch.Select(b => b.File).ToList(), files, timeout.Touch);
        JsonObject? answer;
        HttpStatusCode status;
        try
        {
            // 409 Conflict is STOW-RS's "none stored" (PS3.18 10.5.3): its body still says why, per instance.
            using var response = await SendAsync(name, server, request, timeout.Token, also: HttpStatusCode.Conflict);
            status = response.StatusCode;
            var body = await ReadBoundedAsync(name, response.Content, options.CurrentValue.DicomWebClientMaximumJsonSize * MB, timeout.Token, touch: timeout.Touch);
            answer = body.Length == 0 ? null : ParseJson(name, body) as JsonObject
                ?? throw new DicomWebRemoteException(name, $"DICOMweb server {name} answered the STOW-RS request with JSON that is not an object");
        }
        catch (OperationCanceledException) when (timeout.TimedOut && !ct.IsCancellationRequested)
        {
            throw TimedOut(name, server);
        }
        var failedUids = new Dictionary<string, string>();
        foreach (var item in Items(answer, "00081198")) // FailedSOPSequence
            if (Value(item, "00081155") is { } uid)
                failedUids[uid] = Value(item, "00081197") is { } reason ? $"failure reason {FailureReason(reason)}" : "refused";
        var referenced = Items(answer, "00081199").Select(i => Value(i, "00081155")).OfType<string>().ToHashSet(); // ReferencedSOPSequence
        var failed = new List<string>();
        var reasons = new List<string>();
        foreach (var (id, _) in batch)
        {
            var uid = uids[id];
            // An empty 200 is the one answer that confirms all without naming them (servers before PS3.18 2014 did so).
            var ok = !failedUids.ContainsKey(uid) && (referenced.Contains(uid) || (answer is null && status == HttpStatusCode.OK));
            if (ok) continue;
            failed.Add(id);
            reasons.Add($"{uid}: {failedUids.GetValueOrDefault(uid) ?? "not in the answer's ReferencedSOPSequence"}");
        }
        if (failed.Count > 0) LogStowRefused(logger, name, failed.Count, batch.Count, reasons[0]);
        return (failed, reasons);
    }

    /// <summary>PS3.18 Table 10.5.3-1 / PS3.4 B.2.3's Failure Reason values in words.</summary>
    private static string FailureReason(string code) => code switch
    {
        "272" or "0x0110" => "0x0110 (processing failure)",
        "290" or "0x0122" => "0x0122 (SOP class not supported)",
        "49442" or "0xC122" => "0xC122 (referenced transfer syntax not supported)",
        "42752" or "0xA700" => "0xA700 (out of resources)",
        "43264" or "0xA900" => "0xA900 (data set does not match SOP class)",
        "49152" or "0xC000" => "0xC000 (cannot understand)",
        _ => int.TryParse(code, out var n) ? $"0x{n:X4}" : code,
    };

    [LoggerMessage(LogLevel.Warning, "DICOMweb server {Server} refused {Failed} of {Count} instance(s), the first: {Reason}")]
    private static partial void LogStowRefused(ILogger logger, string server, int failed, int count, string reason);

    /// <summary>The items of a sequence in DICOM JSON (PS3.18 F.2.2: {"tag": {"vr": "SQ", "Value": [...]}}).</summary>
    private static IEnumerable<JsonObject> Items(JsonObject? dataset, string tag) =>
        (dataset?[tag]?["Value"] as JsonArray)?.OfType<JsonObject>() ?? [];

    private static string? Value(JsonObject item, string tag) => item[tag]?["Value"] is JsonArray { Count: > 0 } v ? v[0]?.ToString() : null;

    // ---------------------------------------------------------------- HTTP

    private static string? Argument(IReadOnlyDictionary<string, string>? arguments, params string[] keys) =>
        arguments is null ? null : keys.Select(k => arguments.GetValueOrDefault(k)).FirstOrDefault(v => !string.IsNullOrEmpty(v) && !v.Contains('*'));

    /// <summary>A request to a path under the server's Url (never outside it) with its credentials and headers.</summary>
    private static HttpRequestMessage Request(string name, DicomWebServerOptions server, HttpMethod method, string path, IReadOnlyDictionary<string, string>? arguments)
    {
        if (path.Contains("..", StringComparison.Ordinal) || path.Contains("://", StringComparison.Ordinal) || path.StartsWith('/') || path.Contains('?') || path.Contains('#'))
            throw new Dicom.DicomValidationException($"\"{path}\" is not a path under DICOMweb server {name}'s Url");
        var query = arguments is null || arguments.Count == 0 ? ""
            : "?" + string.Join('&', arguments.Select(a => Uri.EscapeDataString(a.Key) + "=" + Uri.EscapeDataString(a.Value)));
        var uri = new Uri(server.BaseUri, path + query);
        if (!server.BaseUri.IsBaseOf(uri)) throw new Dicom.DicomValidationException($"\"{path}\" is not a path under DICOMweb server {name}'s Url");
        var request = new HttpRequestMessage(method, uri);
        foreach (var (header, value) in server.HttpHeaders) request.Headers.TryAddWithoutValidation(header, value);
        if (server.Username.Length > 0)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{server.Username}:{server.Password}")));
        return request;
    }

    /// <summary>The request sent; a failure to connect, or an answer other than 2xx (and <paramref name="also"/>), is a <see cref="DicomWebRemoteException"/> that says which.</summary>
    private async Task<HttpResponseMessage> SendAsync(string name, DicomWebServerOptions server, HttpRequestMessage request, CancellationToken ct, HttpStatusCode? also = null)
    {
        var client = httpClients.CreateClient(HttpClientName);
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new DicomWebRemoteException(name, $"cannot reach DICOMweb server {name} at {server.Url}: {ex.Message}", ex);
        }
        if (response.IsSuccessStatusCode || response.StatusCode == also) return response;
        using (response)
        {
            string detail;
            try { detail = Encoding.UTF8.GetString(await ReadBoundedAsync(name, response.Content, 4096, ct, truncate: true)).Trim(); }
            catch (Exception ex) when (ex is IOException or HttpRequestException) { detail = ""; }
            var hint = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden ? " (check its Username, Password and HttpHeaders)" : "";
            throw new DicomWebRemoteException(name,
                $"DICOMweb server {name} answered {(int)response.StatusCode} {response.ReasonPhrase} to {request.Method} {request.RequestUri!.AbsolutePath}{hint}" +
                (detail.Length > 0 ? ": " + detail[..Math.Min(detail.Length, 300)] : ""), httpStatus: (int)response.StatusCode);
        }
    }

    /// <summary>At most <paramref name="limit"/> bytes of an answer: refused when larger (or cut to it, for an error's text).</summary>
    private static async Task<byte[]> ReadBoundedAsync(string name, HttpContent content, long limit, CancellationToken ct, bool truncate = false, Action? touch = null)
    {
        if (!truncate && content.Headers.ContentLength > limit)
            throw new DicomWebRemoteException(name, $"DICOMweb server {name} sent {content.Headers.ContentLength} bytes, more than the {limit / MB} MB allowed (DicomWebClientMaximumJsonSize)");
        await using var stream = await content.ReadAsStreamAsync(ct);
        using var memory = new MemoryStream();
        var buffer = new byte[81920];
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            touch?.Invoke();
            if (memory.Length + n > limit)
            {
                if (truncate) { memory.Write(buffer, 0, (int)(limit - memory.Length)); break; }
                throw new DicomWebRemoteException(name, $"DICOMweb server {name} sent more than the {limit / MB} MB allowed (DicomWebClientMaximumJsonSize)");
            }
            memory.Write(buffer, 0, n);
        }
        return memory.ToArray();
    }

    private static JsonNode? ParseJson(string name, byte[] body)
    {
        try { return JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 64 }); }
        catch (JsonException ex) { throw new DicomWebRemoteException(name, $"DICOMweb server {name} answered with invalid JSON: {ex.Message}"); }
    }

    /// <summary>
    /// How long the remote may stay silent (Timeout seconds, on our clock): until it answers, then between two reads of
    /// its answer (or writes of our request). A WADO-RS study of gigabytes may take long; a stalled remote cannot.
    /// The size bounds keep a remote that trickles from going on for ever where an answer is held in memory.
    /// </summary>
    private RequestTimeout Timeout(DicomWebServerOptions server, CancellationToken ct) => new(TimeSpan.FromSeconds(server.Timeout), time, ct);

    private static DicomWebRemoteException TimedOut(string name, DicomWebServerOptions server) =>
        new(name, $"DICOMweb server {name} gave no complete answer within {server.Timeout} s (its Timeout)");

    private sealed class RequestTimeout : IDisposable
    {
        private readonly CancellationTokenSource _timer;
        private readonly CancellationTokenSource _linked;
        private readonly TimeSpan _after;

        public RequestTimeout(TimeSpan after, TimeProvider time, CancellationToken ct)
        {
            _after = after;
            // A source made with a TimeProvider keeps its timer from it, CancelAfter included.
            _timer = new CancellationTokenSource(after, time);
            _linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _timer.Token);
        }

        /// <summary>The remote did something: its silence is counted again from now.</summary>
        public void Touch()
        {
            try { _timer.CancelAfter(_after); }
            catch (ObjectDisposedException) { } // a late write of the request body after the answer was handled
        }

        public CancellationToken Token => _linked.Token;
        public bool TimedOut => _timer.IsCancellationRequested;

        public void Dispose()
        {
            _linked.Dispose();
            _timer.Dispose();
        }
    }
}

/// <summary>
/// The body of a STOW-RS request (PS3.18 10.5.1.2): multipart/related; type="application/dicom", one stored file per
/// part, each copied from the storage area as the request is written. Its length is known beforehand from the index,
/// so the request carries a Content-Length and no server has to accept a chunked upload.
/// </summary>
public sealed class StowContent : HttpContent
{
    private readonly IReadOnlyList<AttachmentInfo> _files;
    private readonly InstanceFiles _reader;
    private readonly byte[] _partHeader;
    private readonly byte[] _end;

    private readonly Action _touch;

    public StowContent(IReadOnlyList<AttachmentInfo> files, InstanceFiles reader, Action touch)
    {
        _touch = touch;
        _files = files;
        _reader = reader;
        var boundary = "OrthancWeb-" + Guid.NewGuid().ToString("N");
        _partHeader = Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n");
        _end = Encoding.ASCII.GetBytes($"--{boundary}--\r\n");
        var type = new MediaTypeHeaderValue("multipart/related");
        type.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
        type.Parameters.Add(new NameValueHeaderValue("boundary", boundary));
        Headers.ContentType = type;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        foreach (var file in _files)
        {
            await stream.WriteAsync(_partHeader, cancellationToken);
            await using (var content = _reader.Open(file))
                await content.CopyToAsync(new ActivityStream(stream, _touch), cancellationToken);
            await stream.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
        }
        await stream.WriteAsync(_end, cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _files.Sum(f => _partHeader.Length + f.UncompressedSize + 2) + _end.Length;
        return true;
    }
}

/// <summary>A stream passed through that says when bytes moved, to count a remote's silence from its last activity.</summary>
internal sealed class ActivityStream(Stream inner, Action touch) : Stream
{
    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) { var n = inner.Read(buffer, offset, count); touch(); return n; }
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken);
        touch();
        return n;
    }
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override void Write(byte[] buffer, int offset, int count) { inner.Write(buffer, offset, count); touch(); }
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken);
        touch();
    }
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// A DICOMweb server could not be reached, refused, timed out or answered something unusable. A network failure as a
/// modality's are (HTTP 500 "Error in the network protocol" in Orthanc's error JSON), with the reason in words.
/// </summary>
public sealed class DicomWebRemoteException(string server, string message, Exception? inner = null, int? httpStatus = null) : DicomNetworkException(message, inner)
{
    public string Server { get; } = server;

    /// <summary>The remote's HTTP status, when it answered one (401 for wrong credentials).</summary>
    public int? HttpStatus { get; } = httpStatus;
}
