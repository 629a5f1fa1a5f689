using System.Globalization;
using System.Text;
using Microsoft.Net.Http.Headers;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.DicomWeb.Server;

/// <summary>One acceptable media type of a request (PS3.18 8.7.1): a type, the type of a multipart's parts, a transfer syntax.</summary>
public sealed record AcceptedMedia(string MediaType, string? PartType, string? TransferSyntax, double Quality)
{
    public bool IsMultipart => MediaType.Equals("multipart/related", StringComparison.OrdinalIgnoreCase);
    public bool IsAny => MediaType is "*/*" or "multipart/*";
}

/// <summary>Content negotiation and multipart bodies as PS3.18 8.7 and RFC 2387 define them.</summary>
public static class DicomWebMedia
{
    public const string DicomJson = "application/dicom+json";
    public const string DicomXml = "application/dicom+xml";
    public const string Dicom = "application/dicom";
    public const string OctetStream = "application/octet-stream";

    /// <summary>
    /// The media types a request accepts, best first: the <c>accept</c> query parameter (8.3.3.1) wins over the Accept
    /// header; none given means anything (<c>*/*</c>).
    /// </summary>
    public static IReadOnlyList<AcceptedMedia> Accepted(HttpRequest request)
    {
        var values = request.Query.TryGetValue("accept", out var q) && q.Count > 0 ? q.ToString() : request.Headers.Accept.ToString();
        return ParseAccept(values);
    }

    /// <summary>
    /// Media ranges (RFC 9110 12.5.1), read leniently as DICOMweb clients write them: parameter values quoted or not
    /// (<c>type=application/dicom</c>, which a strict parser refuses for its '/'), an entry that does not parse ignored
    /// on its own (PS3.18 8.7.7), <c>q=0</c> meaning "not this". Best first, in the client's order among equals.
    /// </summary>
    public static IReadOnlyList<AcceptedMedia> ParseAccept(string values)
    {
        if (string.IsNullOrWhiteSpace(values)) return [new AcceptedMedia("*/*", null, null, 1)];
        var result = new List<AcceptedMedia>();
        var valid = 0;
        foreach (var entry in SplitOutsideQuotes(values, ','))
        {
            var parts = SplitOutsideQuotes(entry, ';');
            var type = parts[0].Trim().ToLowerInvariant();
            if (type.Length == 0 || type.Count(c => c == '/') != 1) continue;
            string? partType = null, syntax = null;
            double quality = 1;
            var ok = true;
            foreach (var parameter in parts.Skip(1))
            {
                var eq = parameter.IndexOf('=');
                if (eq < 0) continue;
                var name = parameter[..eq].Trim().ToLowerInvariant();
                var value = parameter[(eq + 1)..].Trim().Trim('"');
                switch (name)
                {
                    case "type": partType = value.ToLowerInvariant(); break;
                    case "transfer-syntax": syntax = value; break;
                    case "q": ok = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out quality) && quality is >= 0 and <= 1; break;
                }
            }
            if (!ok) continue;
            valid++;
            if (quality > 0) result.Add(new AcceptedMedia(type, partType, syntax, quality));
        }
        // Nothing readable at all: as if no Accept had been sent. Readable but all refused (q=0): nothing is acceptable.
        return valid == 0 ? [new AcceptedMedia("*/*", null, null, 1)] : result.OrderByDescending(m => m.Quality).ToList();
    }

    private static List<string> SplitOutsideQuotes(string text, char separator)
    {
        var parts = new List<string>();
        var (start, quoted) = (0, false);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '"') quoted = !quoted;
            else if (text[i] == separator && !quoted) { parts.Add(text[start..i]); start = i + 1; }
        }
        parts.Add(text[start..]);
        return parts;
    }

    /// <summary>
    /// Whether data sets go as DICOM JSON (false) or as a multipart of PS3.19 XML documents (true, 8.7.5), by the
    /// first acceptable of the two in the client's order; 406 when neither is acceptable.
    /// </summary>
    public static bool WantsXml(IReadOnlyList<AcceptedMedia> accepted)
    {
        foreach (var m in accepted)
        {
            if (m.IsAny || m.MediaType is DicomJson or "application/json") return false;
            if (m.IsMultipart && m.PartType == DicomXml || m.MediaType == DicomXml) return true;
        }
        throw DicomWebException.NotAcceptable("Data sets are sent as application/dicom+json or multipart/related; type=\"application/dicom+xml\"");
    }

    /// <summary>A DICOM JSON array written as a multipart of PS3.19 XML documents, one part per data set.</summary>
    public static async Task WriteXmlAsync(HttpResponse response, ReadOnlyMemory<byte> jsonArray, CancellationToken ct)
    {
        using var document = System.Text.Json.JsonDocument.Parse(jsonArray, JsonLimits);
        var boundary = MultipartRelatedWriter.NewBoundary();
        response.ContentType = MultipartRelatedWriter.ContentType(DicomXml, boundary);
        var writer = new MultipartRelatedWriter(response.Body, boundary);
        foreach (var dataset in document.RootElement.EnumerateArray())
            await writer.WritePartAsync(DicomXml, OrthancWeb.Dicom.Json.DicomXmlModel.FromJson(dataset), ct);
        await writer.CompleteAsync(ct);
    }

    /// <summary>One data set's DICOM JSON object as its PS3.19 Native DICOM Model document.</summary>
    public static byte[] ToXml(ReadOnlyMemory<byte> jsonObject)
    {
        using var document = System.Text.Json.JsonDocument.Parse(jsonObject, JsonLimits);
        return OrthancWeb.Dicom.Json.DicomXmlModel.FromJson(document.RootElement);
    }

    private static readonly System.Text.Json.JsonDocumentOptions JsonLimits = new() { MaxDepth = OrthancWeb.Dicom.Json.DicomJsonModel.MaximumJsonDepth + 1 };

    /// <summary>
    /// A Warning header value (RFC 9111 5.5: <c>299 agent "text"</c>) of printable ASCII only and of bounded length: its
    /// text can echo a client's parameters or an uploaded file's values, and a control or non-ASCII character would
    /// make the server fail the response instead of sending it.
    /// </summary>
    public static string Warning(string text)
    {
        var clean = new StringBuilder(Math.Min(text.Length, 300));
        foreach (var c in text)
        {
            if (clean.Length >= 300) { clean.Append("..."); break; }
            clean.Append(c is >= ' ' and <= '~' && c != '"' && c != '\\' ? c : c == '"' ? '\'' : '?');
        }
        return $"299 OrthancWeb: \"{clean}\"";
    }

    /// <summary>This server's DICOMweb root as the client reached it ("https://host:port/dicom-web/"): BulkDataURIs and RetrieveURLs start with it.</summary>
    public static string Root(HttpRequest request) => $"{request.Scheme}://{request.Host}{request.PathBase}/dicom-web/";

    /// <summary>The media type of a frame or bulk data value in a syntax (PS3.18 Table 8.7.3-2 and 8.7.4-1): compressed frames have their own.</summary>
    public static string FrameMediaType(TransferSyntax syntax) => syntax.Uid switch
    {
        "1.2.840.10008.1.2.4.50" or "1.2.840.10008.1.2.4.51" or "1.2.840.10008.1.2.4.57" or "1.2.840.10008.1.2.4.70" => "image/jpeg",
        "1.2.840.10008.1.2.4.80" or "1.2.840.10008.1.2.4.81" => "image/jls",
        "1.2.840.10008.1.2.4.90" or "1.2.840.10008.1.2.4.91" => "image/jp2",
        "1.2.840.10008.1.2.4.92" or "1.2.840.10008.1.2.4.93" => "image/jpx",
        "1.2.840.10008.1.2.5" => "image/x-dicom-rle",
        "1.2.840.10008.1.2.4.100" or "1.2.840.10008.1.2.4.101" => "video/mpeg",
        "1.2.840.10008.1.2.4.102" or "1.2.840.10008.1.2.4.103" => "video/mp4",
        _ => OctetStream,
    };
}

/// <summary>
/// Writes a <c>multipart/related</c> body part by part straight to the response (RFC 2387; PS3.18 8.7.3.2): nothing
/// is gathered in memory beyond the part being written.
/// </summary>
public sealed class MultipartRelatedWriter(Stream body, string boundary)
{
    private bool _first = true;

    public static string NewBoundary() => Guid.NewGuid().ToString("N");

    public static string ContentType(string partType, string boundary, string? transferSyntax = null) =>
        $"multipart/related; type=\"{partType}\"; boundary={boundary}" + (transferSyntax is null ? "" : $"; transfer-syntax={transferSyntax}");

    public async Task WritePartAsync(string contentType, Func<Stream, CancellationToken, Task> content, CancellationToken ct, string? location = null)
    {
        var head = PartHead(contentType, location, _first);
        _first = false;
        await body.WriteAsync(head, ct);
        await content(body, ct);
    }

    private byte[] PartHead(string contentType, string? location, bool first)
    {
        var head = new StringBuilder();
        head.Append(first ? "--" : "\r\n--").Append(boundary).Append("\r\nContent-Type: ").Append(contentType).Append("\r\n");
        if (location is not null) head.Append("Content-Location: ").Append(location).Append("\r\n");
        head.Append("\r\n");
        return Encoding.ASCII.GetBytes(head.ToString());
    }

    /// <summary>
    /// The body's exact length when every part has the same content type and no location, as a frames answer has: sent
    /// as Content-Length, it spares the client de-chunking a large body (Orthanc sends one too).
    /// </summary>
    public long LengthOf(string contentType, IEnumerable<long> partLengths)
    {
        long total = 0;
        var count = 0;
        foreach (var length in partLengths) total += length + PartHead(contentType, null, count++ == 0).Length;
        return total + Encoding.ASCII.GetByteCount((count == 0 ? "--" : "\r\n--") + boundary + "--\r\n");
    }

    public Task WritePartAsync(string contentType, ReadOnlyMemory<byte> content, CancellationToken ct, string? location = null) =>
        WritePartAsync(contentType, (s, t) => s.WriteAsync(content, t).AsTask(), ct, location);

    public async Task CompleteAsync(CancellationToken ct) =>
        await body.WriteAsync(Encoding.ASCII.GetBytes((_first ? "--" : "\r\n--") + boundary + "--\r\n"), ct);
}

/// <summary>A DICOMweb request the server cannot answer as asked: its status and the reason (sent as a Warning and in the body).</summary>
public sealed class DicomWebException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;

    public static DicomWebException NotAcceptable(string what) => new(StatusCodes.Status406NotAcceptable, what);
    public static DicomWebException NotFound(string what) => new(StatusCodes.Status404NotFound, what);
    public static DicomWebException BadRequest(string what) => new(StatusCodes.Status400BadRequest, what);

    /// <summary>Pixel data that cannot be decoded: only as stored (406), no such frame (404), or a bad request (400).</summary>
    public static DicomWebException From(ImagingException ex) => new(ex.Failure switch
    {
        ImagingFailure.NoCodec => StatusCodes.Status406NotAcceptable,
        ImagingFailure.NoSuchFrame => StatusCodes.Status404NotFound,
        _ => StatusCodes.Status400BadRequest,
    }, ex.Message);
}

internal static class Numbers
{
    public static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
