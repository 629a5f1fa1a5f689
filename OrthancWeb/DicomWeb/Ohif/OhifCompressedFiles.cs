using System.Collections.Concurrent;
using System.IO.Compression;

namespace OrthancWeb.DicomWeb.Ohif;

/// <summary>
/// OHIF's scripts, styles and WebAssembly brotli-compressed once and kept: 26 MB of bundle becomes about 5 MB on the
/// wire, which matters beyond loopback (2 s of a 100 Mbit/s link), without compressing again on every request the
/// way a compression middleware would. Compressed on first request; the bundle does not change while the server runs.
/// </summary>
internal sealed class OhifCompressedFiles
{
    /// <summary>Quality 5 of 11: about the size of gzip -9 for a fraction of quality 11's time (a one-time cost per file).</summary>
    private const int Quality = 5;

    private static readonly HashSet<string> Compressible = new(StringComparer.OrdinalIgnoreCase) { ".js", ".mjs", ".css", ".json", ".jsonc", ".wasm", ".svg", ".map", ".txt", ".html" };

    private readonly ConcurrentDictionary<string, Lazy<byte[]>> _files = new(StringComparer.Ordinal);

    public static bool IsCompressible(string path) => Compressible.Contains(Path.GetExtension(path));

    /// <summary>Whether the request accepts brotli (RFC 9110 12.5.3), not refused by q=0.</summary>
    public static bool AcceptsBrotli(HttpRequest request)
    {
        foreach (var value in request.Headers.AcceptEncoding)
            foreach (var entry in (value ?? "").Split(','))
            {
                var parts = entry.Split(';', StringSplitOptions.TrimEntries);
                if (!parts[0].Equals("br", StringComparison.OrdinalIgnoreCase)) continue;
                return !parts.Skip(1).Any(p => p.Replace(" ", "", StringComparison.Ordinal) is "q=0" or "q=0.0" or "q=0.00" or "q=0.000");
            }
        return false;
    }

    public byte[] Get(string physicalPath) => _files.GetOrAdd(physicalPath, p => new Lazy<byte[]>(() => Compress(File.ReadAllBytes(p)))).Value;

    private static byte[] Compress(byte[] source)
    {
        var output = new byte[BrotliEncoder.GetMaxCompressedLength(source.Length)];
        if (!BrotliEncoder.TryCompress(source, output, out var written, Quality, 22))
            throw new InvalidOperationException("brotli could not compress an OHIF file into its maximum size");
        return output.AsSpan(0, written).ToArray();
    }
}
