using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network;
using OrthancWeb.Index;
using OrthancWeb.Security;
using OrthancWeb.Storage;

namespace OrthancWeb.OrthancPeers;

/// <summary>How a send to a peer is made (POST /peers/{name}/store's options, Orthanc's names).</summary>
/// <param name="Compress">gzip each instance (Content-Encoding: gzip), as Orthanc 1.6's "Compress".</param>
/// <param name="Transcode">Transfer syntax UID to re-encode each instance in before sending; null sends it as stored.</param>
/// <param name="Permissive">Go on past an instance the peer refuses (counted in FailedInstancesCount) instead of stopping.</param>
public sealed record PeerSendOptions(bool Compress = false, string? Transcode = null, bool Permissive = false);

/// <summary>What a send did: instances attempted, those that failed, and the bytes sent (after compression).</summary>
public sealed record PeerSendResult(int InstancesCount, IReadOnlyList<string> FailedInstances, long Size);

/// <summary>
/// Orthanc's HTTP client side of peers: GET {Url}system, and POST {Url}instances with each stored DICOM file, as
/// Orthanc 1.10 does (its OrthancPeerStore job), to any server speaking Orthanc's REST API, Orthanc itself included.
/// Every transfer is in the audit trail.
/// </summary>
public sealed class OrthancPeerClient(PeerRegistry registry, PeerHttpClients clients, IndexQueries queries, InstanceFiles files, StorageArea storage,
    IOptionsMonitor<PeersOptions> options, TimeProvider time, IAuditTrail audit)
{
    /// <summary>An answer of the peer read into memory is bounded (a /system answer is a few hundred bytes).</summary>
    private const int MaximumAnswer = 1 << 20;

    /// <summary>The peer's GET /system answer, as it sent it.</summary>
    public async Task<string> SystemAsync(string name, CancellationToken ct)
    {
        var peer = registry.Get(name);
        Caller.Demand(Policies.Modify, "reach Orthanc peers");
        using var timeout = Timeout(peer, ct);
        try
        {
            using var request = Request(peer, HttpMethod.Get, "system");
            using var response = await SendAsync(name, peer, request, timeout.Token);
            return Encoding.UTF8.GetString(await ReadBoundedAsync(response.Content, timeout.Token));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { throw TimedOut(name, peer); }
    }

    /// <summary>Every instance under these resources (public IDs of any level); an unknown ID is a 404 before anything is sent.</summary>
    public async Task<IReadOnlyList<(string InstanceId, AttachmentInfo File)>> InstancesAsync(IEnumerable<string> resources, CancellationToken ct)
    {
        var all = new List<(string, AttachmentInfo)>();
        foreach (var id in resources)
        {
            if (await queries.GetAsync(id, null, ct) is null) throw new KeyNotFoundException($"Unknown resource: {id}");
            all.AddRange(await queries.InstanceFilesAsync(id, ct));
        }
        return all;
    }

    /// <summary>
    /// POSTs each instance to the peer's /instances, one after the other, reporting progress after each. The first
    /// failure stops the send (an exception saying why) unless <see cref="PeerSendOptions.Permissive"/>.
    /// </summary>
    public async Task<PeerSendResult> StoreAsync(string name, IReadOnlyList<(string InstanceId, AttachmentInfo File)> instances, PeerSendOptions how,
        IProgress<double>? progress, CancellationToken ct)
    {
        var peer = registry.Get(name);
        Caller.Demand(Policies.Modify, "send to Orthanc peers");
        var target = how.Transcode is { Length: > 0 } uid ? Transcoder.ParseTarget(uid) : null;
        var failed = new List<string>();
        long size = 0;
        var sent = 0;
        Exception? stop = null;
        try
        {
            for (var i = 0; i < instances.Count; i++)
            {
                var (id, file) = instances[i];
                try
                {
                    size += await SendOneAsync(name, peer, file, how.Compress, target, ct);
                    sent++;
                }
                catch (OrthancPeerException) when (how.Permissive) { failed.Add(id); }
                progress?.Report(100.0 * (i + 1) / instances.Count);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            stop = ex;
            throw;
        }
        finally
        {
            var outcome = stop is null && failed.Count == 0 ? AuditOutcome.Success : AuditOutcome.MinorFailure;
            audit.Record(new AuditEvent(AuditActions.Send, ct.IsCancellationRequested ? AuditOutcome.MinorFailure : outcome)
            {
                ResourceLevel = "Instance",
                ResourceId = string.Join(',', instances.Take(20).Select(i => i.InstanceId)),
                Details = $"{sent} of {instances.Count} instance(s) to Orthanc peer {name} at {peer.BaseUri}" +
                    (stop is not null ? ": " + stop.Message : ct.IsCancellationRequested ? ": canceled" : ""),
            });
        }
        return new PeerSendResult(instances.Count, failed, size);
    }

    /// <summary>
    /// POST /peers/{name}/store-straight: one DICOM file, not stored here, posted to the peer's /instances as it
    /// comes; the peer's answer is the answer.
    /// </summary>
    public async Task<JsonNode?> StoreStraightAsync(string name, Stream body, long? length, CancellationToken ct)
    {
        var peer = registry.Get(name);
        Caller.Demand(Policies.Modify, "send to Orthanc peers");
        var content = new StreamContent(body);
        if (length is { } n) content.Headers.ContentLength = n;
        content.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
        using var timeout = Timeout(peer, ct);
        try
        {
            using var request = Request(peer, HttpMethod.Post, "instances");
            request.Content = content;
            using var response = await SendAsync(name, peer, request, timeout.Token);
            var answer = await ReadBoundedAsync(response.Content, timeout.Token);
            audit.Record(new AuditEvent(AuditActions.Send, AuditOutcome.Success) { ResourceLevel = "Instance", Details = $"one instance, not stored here, to Orthanc peer {name} at {peer.BaseUri}" });
            try { return JsonNode.Parse(answer); }
            catch (System.Text.Json.JsonException) { throw new OrthancPeerException(name, $"Orthanc peer {name} answered the store with invalid JSON"); }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { throw TimedOut(name, peer); }
        catch (OrthancPeerException ex)
        {
            audit.Record(new AuditEvent(AuditActions.Send, AuditOutcome.MinorFailure) { ResourceLevel = "Instance", Details = $"one instance to Orthanc peer {name}: {ex.Message}" });
            throw;
        }
    }

    /// <summary>One instance to the peer; the bytes sent.</summary>
    private async Task<long> SendOneAsync(string name, OrthancPeerOptions peer, AttachmentInfo file, bool compress, TransferSyntax? target, CancellationToken ct)
    {
        Stream source;
        long length;
        if (target is not null)
        {
            var bytes = Transcoder.TranscodeFile(DicomFile.Open((await files.ReadAllAsync(file, ct)).AsMemory()), target).ToBytes();
            (source, length) = (new MemoryStream(bytes), bytes.Length);
        }
        else (source, length) = (files.Open(file), file.UncompressedSize);
        string? spool = null;
        try
        {
            if (compress)
            {
                // Compressed first, into a file: the peer gets a Content-Length (not every server takes a chunked
                // upload), and a large instance never sits in memory.
                spool = storage.NewTempPath();
                await using (var gz = new GZipStream(File.Create(spool), CompressionLevel.Fastest))
                    await source.CopyToAsync(gz, ct);
                await source.DisposeAsync();
                source = File.OpenRead(spool);
                length = source.Length;
            }
            using var timeout = Timeout(peer, ct);
            try
            {
                using var request = Request(peer, HttpMethod.Post, "instances");
                request.Content = new StreamContent(source);
                request.Content.Headers.ContentLength = length;
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
                if (compress) request.Content.Headers.ContentEncoding.Add("gzip");
                using var response = await SendAsync(name, peer, request, timeout.Token);
                await ReadBoundedAsync(response.Content, timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { throw TimedOut(name, peer); }
            return length;
        }
        finally
        {
            await source.DisposeAsync();
            if (spool is not null) File.Delete(spool);
        }
    }

    private static HttpRequestMessage Request(OrthancPeerOptions peer, HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(peer.BaseUri, path));
        foreach (var (header, value) in peer.HttpHeaders) request.Headers.TryAddWithoutValidation(header, value);
        if (peer.Username.Length > 0)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{peer.Username}:{peer.Password}")));
        return request;
    }

    /// <summary>The request sent; no connection, or an answer other than 2xx, is an <see cref="OrthancPeerException"/> that says which.</summary>
    private async Task<HttpResponseMessage> SendAsync(string name, OrthancPeerOptions peer, HttpRequestMessage request, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await clients.For(peer).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new OrthancPeerException(name, $"cannot reach Orthanc peer {name} at {peer.BaseUri}: {Innermost(ex)}", ex);
        }
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            string detail;
            try { detail = Encoding.UTF8.GetString(await ReadBoundedAsync(response.Content, ct, 4096)).Trim(); }
            catch (Exception ex) when (ex is IOException or HttpRequestException) { detail = ""; }
            var hint = response.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden ? " (check its Username, Password and HttpHeaders)" : "";
            throw new OrthancPeerException(name,
                $"Orthanc peer {name} answered {(int)response.StatusCode} {response.ReasonPhrase} to {request.Method} {request.RequestUri!.AbsolutePath}{hint}" +
                (detail.Length > 0 ? ": " + detail[..Math.Min(detail.Length, 300)] : ""), httpStatus: (int)response.StatusCode);
        }
    }

    /// <summary>The reason a TLS handshake or a connection failed is in the innermost exception.</summary>
    private static string Innermost(Exception ex)
    {
        var messages = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException) messages.Add(e.Message);
        return string.Join(": ", messages.Distinct());
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken ct, int limit = MaximumAnswer)
    {
        await using var stream = await content.ReadAsStreamAsync(ct);
        using var memory = new MemoryStream();
        var buffer = new byte[16384];
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            if (memory.Length + n > limit) { memory.Write(buffer, 0, (int)(limit - memory.Length)); break; }
            memory.Write(buffer, 0, n);
        }
        return memory.ToArray();
    }

    /// <summary>One request's deadline: the peer's Timeout, else HttpTimeout (Orthanc's per-request timeout), on our clock.</summary>
    private Deadline Timeout(OrthancPeerOptions peer, CancellationToken ct) => new(TimeSpan.FromSeconds(Seconds(peer)), time, ct);

    private sealed class Deadline : IDisposable
    {
        private readonly CancellationTokenSource _timer;
        private readonly CancellationTokenSource _linked;

        public Deadline(TimeSpan after, TimeProvider time, CancellationToken ct)
        {
            // A source made with a TimeProvider takes its timer from it.
            _timer = new CancellationTokenSource(after, time);
            _linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _timer.Token);
        }

        public CancellationToken Token => _linked.Token;

        public void Dispose()
        {
            _linked.Dispose();
            _timer.Dispose();
        }
    }

    private int Seconds(OrthancPeerOptions peer) => peer.Timeout > 0 ? peer.Timeout : options.CurrentValue.HttpTimeout;

    private OrthancPeerException TimedOut(string name, OrthancPeerOptions peer) =>
        new(name, $"Orthanc peer {name} gave no complete answer within {Seconds(peer)} s (its Timeout, or HttpTimeout)");
}

/// <summary>
/// An Orthanc peer could not be reached, refused, timed out or answered an error: a network failure as a modality's
/// are (HTTP 500 "Error in the network protocol" in Orthanc's error JSON, as Orthanc 1.10), the reason in words.
/// </summary>
public sealed class OrthancPeerException(string peer, string message, Exception? inner = null, int? httpStatus = null) : DicomNetworkException(message, inner)
{
    public string Peer { get; } = peer;

    /// <summary>The peer's HTTP status, when it answered one (401 for wrong credentials).</summary>
    public int? HttpStatus { get; } = httpStatus;
}
