using System.Buffers;
using System.Globalization;
using System.Text;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Imaging;
using OrthancWeb.Index;

namespace OrthancWeb.DicomWeb.Server;

/// <summary>The resource a WADO-RS path names (PS3.18 10.4.1): a study, a series of it, or an instance of that series.</summary>
public sealed record WebTarget(string StudyUid, string? SeriesUid = null, string? InstanceUid = null)
{
    public ResourceLevel Level => InstanceUid is not null ? ResourceLevel.Instance : SeriesUid is not null ? ResourceLevel.Series : ResourceLevel.Study;
}

/// <summary>
/// WADO-RS (PS3.18 10.4): instances in their stored or an uncompressed transfer syntax, metadata from the JSON rows
/// kept at ingest, frames, bulk data, rendered images and thumbnails. Responses are streamed part by part.
/// </summary>
public sealed class WadoService(IndexQueries queries, IndexTransactions transactions, InstanceFiles files, RenderingService rendering, IAuditTrail audit)
{
    /// <summary>The instances a target names, each access recorded once per study; 404 when there are none.</summary>
    private async Task<IReadOnlyList<WebInstance>> InstancesAsync(WebTarget target, bool withJson, string action, string what, CancellationToken ct)
    {
        var instances = target.InstanceUid is not null && target.SeriesUid is not null && !withJson
            ? await queries.WebInstanceByUidsAsync(target.StudyUid, target.SeriesUid, target.InstanceUid, ct)
            : await queries.WebInstancesAsync(target.Level, await queries.ResolveUidsAsync(target.StudyUid, target.SeriesUid, target.InstanceUid, ct), withJson, ct);
        if (instances.Count == 0) throw DicomWebException.NotFound($"No {target.Level.ToString().ToLowerInvariant()} {target.InstanceUid ?? target.SeriesUid ?? target.StudyUid} in this archive");
        foreach (var study in instances.GroupBy(i => (i.PatientId, i.StudyUid)))
            audit.Record(new AuditEvent(action, AuditOutcome.Success)
            {
                PatientId = study.Key.PatientId,
                StudyInstanceUid = study.Key.StudyUid,
                ResourceLevel = target.Level.ToString(),
                Details = $"WADO-RS {what}: {study.Count()} instance(s)",
            });
        return instances;
    }

    // ---- instances ----

    /// <summary>
    /// The transfer syntaxes acceptable for instances, in the client's order of preference; null stands for "as stored"
    /// (transfer-syntax=*). application/dicom without a transfer-syntax parameter means Explicit VR Little Endian
    /// (PS3.18 8.7.3.5.2, Table 8.7.3-2).
    /// </summary>
    public static IReadOnlyList<string?> AcceptableInstanceSyntaxes(IReadOnlyList<AcceptedMedia> accepted)
    {
        var result = new List<string?>();
        foreach (var m in accepted)
        {
            if (m.IsAny) { result.Add(TransferSyntax.ExplicitVRLittleEndian.Uid); continue; }
            var type = m.IsMultipart ? m.PartType ?? DicomWebMedia.Dicom : m.MediaType;
            if (type == DicomWebMedia.Dicom) result.Add(m.TransferSyntax is "*" ? null : m.TransferSyntax ?? TransferSyntax.ExplicitVRLittleEndian.Uid);
        }
        return result.Count > 0 ? result : throw DicomWebException.NotAcceptable("Instances are sent as multipart/related; type=\"application/dicom\"");
    }

    /// <summary>
    /// For one instance, the first acceptable syntax it can be sent in (PS3.18 8.7.3.5): as stored when "*" or its own
    /// syntax comes first, else an uncompressed syntax it can be decoded to. Null: as stored. A 406 names the instance
    /// when none fits, so that the request is refused before the first byte rather than cut in the middle of a multipart.
    /// </summary>
    public static TransferSyntax? ChooseSyntax(IReadOnlyList<string?> acceptable, WebInstance instance)
    {
        foreach (var uid in acceptable)
        {
            if (uid is null || uid == instance.TransferSyntaxUid) return null;
            var syntax = TransferSyntax.Lookup(uid);
            if (syntax.IsUncompressed && syntax != TransferSyntax.DeflatedExplicitVRLittleEndian && CanDecode(instance.TransferSyntaxUid)) return syntax;
        }
        throw DicomWebException.NotAcceptable(CanDecode(instance.TransferSyntaxUid)
            ? $"Instance {instance.SopInstanceUid} is stored in {instance.TransferSyntaxUid} and can be sent as stored (transfer-syntax=*) or in an uncompressed syntax, not in {string.Join(", ", acceptable)}"
            : $"Instance {instance.SopInstanceUid} is stored in {instance.TransferSyntaxUid}, which this server cannot decode: ask for transfer-syntax=* (as stored)");
    }

    public async Task RetrieveAsync(HttpContext http, WebTarget target, CancellationToken ct)
    {
        var acceptable = AcceptableInstanceSyntaxes(DicomWebMedia.Accepted(http.Request));
        var instances = await InstancesAsync(target, withJson: false, AuditActions.Download, "retrieve", ct);
        // Every instance's syntax chosen before the first byte: what cannot be sent as asked is a 406, not a broken multipart.
        var plan = instances.Select(i => (Instance: i, Syntax: ChooseSyntax(acceptable, i))).ToList();

        var boundary = MultipartRelatedWriter.NewBoundary();
        http.Response.ContentType = MultipartRelatedWriter.ContentType(DicomWebMedia.Dicom, boundary);
        var writer = new MultipartRelatedWriter(http.Response.Body, boundary);
        foreach (var (instance, wanted) in plan)
        {
            if (wanted is null)
            {
                // Opened before its part starts: a file missing from the storage area fails the request with a status
                // while nothing has been sent yet, not in the middle of a multipart body.
                await using var stream = files.Open(instance.File);
                await writer.WritePartAsync($"{DicomWebMedia.Dicom}; transfer-syntax={instance.TransferSyntaxUid}", (body, token) => stream.CopyToAsync(body, token), ct);
                continue;
            }
            var stored = files.Read(instance.File, includePixelData: true);
            var converted = Transcoder.ToUncompressedFile(stored, wanted);
            await writer.WritePartAsync($"{DicomWebMedia.Dicom}; transfer-syntax={wanted.Uid}", converted.ToBytes(), ct);
        }
        await writer.CompleteAsync(ct);
    }

    /// <summary>One instance as a single application/dicom body (WADO-URI), as stored or in the uncompressed syntax asked for.</summary>
    public async Task InstanceFileAsync(HttpContext http, WebTarget target, CancellationToken ct)
    {
        var acceptable = AcceptableInstanceSyntaxes(DicomWebMedia.Accepted(http.Request));
        var instance = (await InstancesAsync(target, withJson: false, AuditActions.Download, "WADO-URI", ct))[0];
        var wanted = ChooseSyntax(acceptable, instance);
        http.Response.ContentType = DicomWebMedia.Dicom;
        if (wanted is null)
        {
            await using var stream = files.Open(instance.File);
            await stream.CopyToAsync(http.Response.Body, ct);
            return;
        }
        await http.Response.Body.WriteAsync(Transcoder.ToUncompressedFile(files.Read(instance.File, includePixelData: true), wanted).ToBytes(), ct);
    }

    private static bool CanDecode(string syntax)
    {
        try { CodecRegistry.Default.Find(TransferSyntax.Lookup(syntax)); return true; }
        catch (ImagingException) { return false; }
    }

    // ---- metadata ----

    public async Task MetadataAsync(HttpContext http, WebTarget target, CancellationToken ct)
    {
        var xml = DicomWebMedia.WantsXml(DicomWebMedia.Accepted(http.Request));
        var instances = await InstancesAsync(target, withJson: true, AuditActions.View, "metadata", ct);
        var root = Encoding.UTF8.GetBytes(DicomWebMedia.Root(http.Request));
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        var built = new List<(long RowId, byte[] Json)>();
        // JSON goes out as one array in chunks of about 1 MB; XML as one part per instance (PS3.18 8.7.3.3): either way
        // the memory held is bounded whatever the size of the study.
        var boundary = MultipartRelatedWriter.NewBoundary();
        var parts = xml ? new MultipartRelatedWriter(http.Response.Body, boundary) : null;
        http.Response.ContentType = xml ? MultipartRelatedWriter.ContentType(DicomWebMedia.DicomXml, boundary) : DicomWebMedia.DicomJson;
        if (!xml) buffer.Write("["u8);
        for (var i = 0; i < instances.Count; i++)
        {
            if (i > 0 && !xml) buffer.Write(","u8);
            // A row missing (an instance indexed before rows were kept) is built from the file's header, and kept.
            var row = instances[i].Json;
            if (row is null) built.Add((instances[i].RowId, row = InstanceMetadataJson.Encode(files.Read(instances[i].File))));
            InstanceMetadataJson.WriteTo(buffer, row, root);
            if (parts is not null)
            {
                await parts.WritePartAsync(DicomWebMedia.DicomXml, DicomWebMedia.ToXml(buffer.WrittenMemory), ct);
                buffer.ResetWrittenCount();
            }
            else if (buffer.WrittenCount > 1 << 20)
            {
                await http.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
                buffer.ResetWrittenCount();
            }
        }
        if (parts is not null) await parts.CompleteAsync(ct);
        else
        {
            buffer.Write("]"u8);
            await http.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
        }
        if (built.Count > 0) await transactions.AddInstanceJsonAsync(built, CancellationToken.None);
    }

    // ---- frames ----

    public static IReadOnlyList<int> ParseFrameList(string list)
    {
        var frames = new List<int>();
        foreach (var part in list.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
                throw DicomWebException.BadRequest($"'{part}' is not a frame number (frames are numbered from 1)");
            frames.Add(n);
        }
        if (frames.Count is 0 or > 10000) throw DicomWebException.BadRequest("A frame list names 1 to 10,000 frames");
        return frames;
    }

    public async Task FramesAsync(HttpContext http, WebTarget target, string frameList, CancellationToken ct)
    {
        var numbers = ParseFrameList(frameList);
        var accepted = DicomWebMedia.Accepted(http.Request);
        var loaded = await LoadAsync(target, "frames", ct);
        var stored = loaded.Frames.Syntax;
        var storedType = DicomWebMedia.FrameMediaType(stored);
        // Which form to send: as stored (transfer-syntax=* or the stored compressed type), or uncompressed octets.
        var asStored = false;
        var found = false;
        foreach (var m in accepted)
        {
            var type = m.IsMultipart ? m.PartType ?? DicomWebMedia.OctetStream : m.MediaType;
            if (m.IsAny || type is "*/*") { asStored = false; found = true; break; }
            if (type == DicomWebMedia.OctetStream)
            {
                asStored = m.TransferSyntax == "*" || m.TransferSyntax == stored.Uid && stored.IsUncompressed;
                if (m.TransferSyntax is null or "*" || m.TransferSyntax == TransferSyntax.ExplicitVRLittleEndian.Uid || asStored) { found = true; break; }
            }
            else if (type == storedType && (m.TransferSyntax is null or "*" || m.TransferSyntax == stored.Uid)) { asStored = true; found = true; break; }
        }
        if (!found)
            throw DicomWebException.NotAcceptable($"Frames are sent as application/octet-stream (uncompressed) or as stored ({storedType}; transfer-syntax={stored.Uid})");
        foreach (var n in numbers)
            if (n > loaded.Frames.FrameCount) throw DicomWebException.NotFound($"Frame {n} does not exist: the instance has {loaded.Frames.FrameCount}");

        var boundary = MultipartRelatedWriter.NewBoundary();
        var partType = asStored ? $"{storedType}; transfer-syntax={stored.Uid}" : $"{DicomWebMedia.OctetStream}; transfer-syntax={TransferSyntax.ExplicitVRLittleEndian.Uid}";
        http.Response.ContentType = MultipartRelatedWriter.ContentType(asStored ? storedType : DicomWebMedia.OctetStream, boundary);
        var writer = new MultipartRelatedWriter(http.Response.Body, boundary);
        var native = stored == TransferSyntax.ExplicitVRLittleEndian || stored == TransferSyntax.ImplicitVRLittleEndian;
        // An uncompressed frame still in its file goes from the file to the client as the server sends files: a CT
        // slice is 512 KB that need not be loaded into memory first. Unless several frames must be decoded, the body's
        // length is known before its first byte.
        ReadOnlyMemory<byte> Frame(int n) => asStored || native ? loaded.Frames.GetFrame(n - 1) : CodecRegistry.Default.DecodeFrame(loaded.Frames, n - 1).Data;
        if (asStored || native || numbers.Count == 1)
        {
            var parts = new List<(long Length, Func<Stream, CancellationToken, Task> Write)>(numbers.Count);
            foreach (var n in numbers)
                if ((asStored || native) && loaded.Frames.TryGetFrameRange(n - 1, out var path, out var offset, out var length))
                    parts.Add((length, (_, token) => http.Response.SendFileAsync(path, offset, length, token)));
                else
                {
                    var bytes = Frame(n);
                    parts.Add((bytes.Length, (body, token) => body.WriteAsync(bytes, token).AsTask()));
                }
            http.Response.ContentLength = writer.LengthOf(partType, parts.Select(p => p.Length));
            foreach (var part in parts) await writer.WritePartAsync(partType, part.Write, ct);
        }
        else
            foreach (var n in numbers) await writer.WritePartAsync(partType, Frame(n), ct);
        await writer.CompleteAsync(ct);
    }

    private async Task<RenderingService.Loaded> LoadAsync(WebTarget target, string what, CancellationToken ct) =>
        Load((await InstancesAsync(target, withJson: false, AuditActions.View, what, ct))[0]);

    /// <summary>The instance's file, found through the row the request already read (no second index lookup).</summary>
    private RenderingService.Loaded Load(WebInstance instance)
    {
        try
        {
            return rendering.Load(instance.File);
        }
        catch (DicomReadException ex) { throw new DicomWebException(500, "The stored file cannot be read: " + ex.Reason); }
    }

    // ---- bulk data ----

    public async Task BulkDataAsync(HttpContext http, WebTarget target, string location, CancellationToken ct)
    {
        var loaded = await LoadAsync(target, "bulk data", ct);
        DicomDataset current = loaded.File.Dataset;
        DicomItem? item = null;
        var parts = location.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < parts.Length; i++)
        {
            if (!DicomTag.TryParse(parts[i], out var tag) || current[tag] is not { } found) throw DicomWebException.NotFound($"No bulk data at {location}");
            item = found;
            if (found is DicomSequence seq && i + 1 < parts.Length)
            {
                if (!int.TryParse(parts[++i], NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index >= seq.Items.Count)
                    throw DicomWebException.NotFound($"No bulk data at {location}");
                current = seq.Items[index];
                item = null;
            }
            else if (i + 1 < parts.Length) throw DicomWebException.NotFound($"No bulk data at {location}");
        }
        var boundary = MultipartRelatedWriter.NewBoundary();
        http.Response.ContentType = MultipartRelatedWriter.ContentType(DicomWebMedia.OctetStream, boundary);
        var writer = new MultipartRelatedWriter(http.Response.Body, boundary);
        switch (item)
        {
            case DicomFragmentSequence when item.Tag == DicomTags.PixelData:
                // Encapsulated pixel data: each frame as its own compressed part (8.7.4).
                var type = DicomWebMedia.FrameMediaType(loaded.Frames.Syntax) + "; transfer-syntax=" + loaded.Frames.Syntax.Uid;
                for (var f = 0; f < loaded.Frames.FrameCount; f++) await writer.WritePartAsync(type, loaded.Frames.GetFrame(f), ct);
                break;
            case DicomElement e when e.VR.Kind == VRKind.Bytes:
                await writer.WritePartAsync(DicomWebMedia.OctetStream, e.Buffer.Memory, ct);
                break;
            default:
                throw DicomWebException.NotFound($"No bulk data at {location}");
        }
        await writer.CompleteAsync(ct);
    }

    // ---- rendered and thumbnails ----

    /// <summary>
    /// A rendered frame (PS3.18 8.3.5, 10.4.1.1.3): JPEG unless PNG is preferred, with the window and viewport
    /// parameters; a thumbnail is the same at a small viewport.
    /// </summary>
    public async Task RenderedAsync(HttpContext http, WebTarget target, int frame, bool thumbnail, CancellationToken ct)
    {
        var accepted = DicomWebMedia.Accepted(http.Request);
        var png = false;
        var found = false;
        foreach (var m in accepted)
        {
            if (m.IsAny || m.MediaType is "image/*" or "image/jpeg") { found = true; break; }
            if (m.MediaType == "image/png") { png = true; found = true; break; }
        }
        if (!found) throw DicomWebException.NotAcceptable("Rendered images are sent as image/jpeg or image/png");
        // A study's or series' image is its first series' middle instance (the representative one of the viewer's
        // previews): resolved, and recorded in the trail, once.
        var all = await InstancesAsync(target, withJson: false, AuditActions.View, thumbnail ? "thumbnail" : "rendered", ct);
        var series = all.Where(i => i.SeriesUid == all[0].SeriesUid).ToList();
        var loaded = Load(series[series.Count / 2]);
        if (frame < 1 || frame > loaded.Frames.FrameCount) throw DicomWebException.NotFound($"Frame {frame} does not exist: the instance has {loaded.Frames.FrameCount}");
        var query = http.Request.Query;
        double? center = null, width = null;
        if (query["window"].ToString() is { Length: > 0 } window)
        {
            var w = window.Split(',');
            if (w.Length < 2 || !double.TryParse(w[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var c) ||
                !double.TryParse(w[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var ww) || ww <= 0)
                throw DicomWebException.BadRequest("window is center,width[,function] with a positive width");
            (center, width) = (c, ww);
        }
        int? vw = thumbnail ? 128 : null, vh = thumbnail ? 128 : null;
        if (query["viewport"].ToString() is { Length: > 0 } viewport)
        {
            var v = viewport.Split(',');
            if (!int.TryParse(v[0], out var x) || x < 1 || v.Length < 2 || !int.TryParse(v[1], out var y) || y < 1)
                throw DicomWebException.BadRequest("viewport is vw,vh[,sx,sy,sw,sh] with positive sizes");
            (vw, vh) = (x, y);
            if (v.Length > 2) http.Response.Headers.Append("Warning", DicomWebMedia.Warning("viewport cropping (sx,sy,sw,sh) is not supported; the whole image was rendered"));
        }
        var quality = int.TryParse(query["quality"], out var q) && q is >= 1 and <= 100 ? q : 90;
        var options = new RenderOptions { WindowCenter = center, WindowWidth = width, Width = vw, Height = vh };
        byte[] image;
        try
        {
            image = png ? rendering.RenderPng(loaded, frame - 1, options) : rendering.RenderJpeg(loaded, frame - 1, options, quality);
        }
        catch (ImagingException ex) { throw DicomWebException.From(ex); }
        http.Response.ContentType = png ? "image/png" : "image/jpeg";
        http.Response.Headers.CacheControl = "private, max-age=86400";
        // A known length rather than chunks: one write, and the client reads to a count instead of parsing chunks.
        http.Response.ContentLength = image.Length;
        await http.Response.Body.WriteAsync(image, ct);
    }
}
