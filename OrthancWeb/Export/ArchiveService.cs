using System.Globalization;
using System.IO.Compression;
using System.Text;
using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Media;
using OrthancWeb.Index;

namespace OrthancWeb.Export;

/// <summary>One file of an archive: the stored instance and where it goes in the ZIP.</summary>
public sealed record ArchiveEntry(string InstanceId, AttachmentInfo File, string Path);

/// <summary>What an archive will hold, resolved from the index before the first byte is sent (so an unknown resource is a clean 404).</summary>
public sealed record ArchivePlan(IReadOnlyList<ArchiveEntry> Entries, long TotalSize)
{
    /// <summary>The patients' studies it holds (PatientID, StudyInstanceUID, instances), for the audit trail.</summary>
    public IReadOnlyList<ArchivedStudy> Studies { get; init; } = [];
}

public sealed record ArchivedStudy(string PatientId, string StudyInstanceUid, int Instances);

/// <summary>
/// ZIP exports of resources, streamed: instances are copied one by one from the storage area into the ZIP, so server
/// memory stays flat whatever the size; ZIP64 takes over past 4 GB. Two layouts: readable folder names
/// (Patient/Study/Series, as Orthanc's /archive) or a DICOM file-set with its DICOMDIR (/media, the General Purpose
/// CD-R profile of PS3.11: File IDs of 8-character components, files in Explicit VR Little Endian).
/// </summary>
public sealed partial class ArchiveService(IndexQueries queries, InstanceFiles files, IOptionsMonitor<ExportOptions> options, ILogger<ArchiveService> logger)
{
    /// <summary>Resolves resources of any level to their instances, ordered patient, study, series, instance number; null if one is unknown.</summary>
    public async Task<ArchivePlan?> PlanAsync(IReadOnlyList<string> resourceIds, bool media, CancellationToken ct)
    {
        var instances = new Dictionary<string, AttachmentInfo>(StringComparer.Ordinal);
        foreach (var id in resourceIds.Distinct())
        {
            if (await queries.GetAsync(id, null, ct) is null) return null;
            foreach (var (instanceId, file) in await queries.InstanceFilesAsync(id, ct)) instances.TryAdd(instanceId, file);
        }
        var tags = new Dictionary<string, Dictionary<DicomTag, string>>(StringComparer.Ordinal);
        foreach (var chunk in instances.Keys.Chunk(2000))
            foreach (var (k, v) in await queries.TagsWithAncestorsAsync(chunk, ct)) tags[k] = v;
        string T(string instance, DicomTag tag) => tags.GetValueOrDefault(instance)?.GetValueOrDefault(tag) ?? "";
        var ordered = instances.Keys
            .OrderBy(i => T(i, DicomTags.PatientID), StringComparer.Ordinal)
            .ThenBy(i => T(i, DicomTags.StudyDate), StringComparer.Ordinal)
            .ThenBy(i => T(i, DicomTags.StudyInstanceUID), StringComparer.Ordinal)
            .ThenBy(i => int.TryParse(T(i, DicomTags.SeriesNumber), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue)
            .ThenBy(i => T(i, DicomTags.SeriesInstanceUID), StringComparer.Ordinal)
            .ThenBy(i => int.TryParse(T(i, DicomTags.InstanceNumber), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue)
            .ThenBy(i => i, StringComparer.Ordinal)
            .ToList();
        var entries = new List<ArchiveEntry>(ordered.Count);
        var folders = new FolderNames(media);
        foreach (var i in ordered)
        {
            var path = folders.PathFor(
                T(i, DicomTags.PatientID), $"{T(i, DicomTags.PatientID)} {T(i, DicomTags.PatientName)}",
                T(i, DicomTags.StudyInstanceUID), $"{T(i, DicomTags.StudyDate)} {T(i, DicomTags.StudyDescription)}",
                T(i, DicomTags.SeriesInstanceUID), $"{T(i, DicomTags.Modality)}{T(i, DicomTags.SeriesNumber)} {T(i, DicomTags.SeriesDescription)}",
                T(i, DicomTags.Modality));
            entries.Add(new ArchiveEntry(i, instances[i], path));
        }
        var studies = ordered.GroupBy(i => (T(i, DicomTags.PatientID), T(i, DicomTags.StudyInstanceUID)))
            .Select(g => new ArchivedStudy(g.Key.Item1, g.Key.Item2, g.Count())).ToList();
        return new ArchivePlan(entries, entries.Sum(e => e.File.UncompressedSize)) { Studies = studies };
    }

    /// <summary>Writes the ZIP to <paramref name="output"/> (which need not be seekable: an HTTP response, say).</summary>
    /// <param name="transcode">The syntax every file is written in (Orthanc's "Transcode"); null: as stored for a ZIP,
    /// Explicit VR Little Endian for media.</param>
    public async Task WriteAsync(Stream output, ArchivePlan plan, bool media, IProgress<double>? progress, CancellationToken ct, TransferSyntax? transcode = null)
    {
        var level = options.CurrentValue.ArchiveCompression ? CompressionLevel.Fastest : CompressionLevel.NoCompression;
        await using var zip = await StreamingZip.CreateAsync(output, level, ct);
        var directory = media ? new DicomDirectory() : null;
        var buffer = new byte[1 << 20];
        long done = 0;
        foreach (var entry in plan.Entries)
        {
            ct.ThrowIfCancellationRequested();
            if (directory is null && transcode is not null)
            {
                var converted = Transcoder.TranscodeFile(DicomFile.Open((await files.ReadAllAsync(entry.File, ct)).AsMemory()), transcode).ToBytes();
                await zip.AddAsync(entry.Path, (target, token) => target.WriteAsync(converted, token).AsTask(), ct);
            }
            else if (directory is null)
                await zip.AddAsync(entry.Path, async (target, token) =>
                {
                    await using var source = files.Open(entry.File);
                    int n;
                    while ((n = await source.ReadAsync(buffer, token)) > 0) await target.WriteAsync(buffer.AsMemory(0, n), token);
                }, ct);
            else
            {
                var (bytes, header, syntax) = await MediaFileAsync(entry, transcode ?? TransferSyntax.ExplicitVRLittleEndian, ct);
                await zip.AddAsync(entry.Path, (target, token) => target.WriteAsync(bytes, token).AsTask(), ct);
                directory.Add(header.Dataset, entry.Path.Split('/'), syntax.Uid);
            }
            done += entry.File.UncompressedSize;
            progress?.Report(100.0 * done / Math.Max(1, plan.TotalSize));
        }
        if (directory is not null)
        {
            var dicomdir = directory.ToFile("ORTHANCWEB").ToBytes();
            await zip.AddAsync("DICOMDIR", (target, token) => target.WriteAsync(dicomdir, token).AsTask(), ct);
        }
    }

    /// <summary>
    /// The file as the General Purpose profile wants it (Explicit VR Little Endian, decoded when the stored file is
    /// not), or in the syntax the request asked for.
    /// </summary>
    private async Task<(ReadOnlyMemory<byte> Bytes, DicomFile Header, TransferSyntax Syntax)> MediaFileAsync(ArchiveEntry entry, TransferSyntax wanted, CancellationToken ct)
    {
        var stored = await files.ReadAllAsync(entry.File, ct);
        var file = DicomFile.Open(stored.AsMemory());
        if (file.TransferSyntax == wanted)
            return (stored, file, file.TransferSyntax);
        try
        {
            var converted = Transcoder.TranscodeFile(file, wanted);
            return (converted.ToBytes(), converted, wanted);
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or DicomReadException or ImagingException)
        {
            // Better a file-set with one file in its own syntax (recorded as such in the DICOMDIR) than no file-set.
            LogKeptInSyntax(logger, entry.InstanceId, file.TransferSyntax.Uid, ex.Message);
            return (stored, file, file.TransferSyntax);
        }
    }

    [LoggerMessage(LogLevel.Warning, "Instance {Instance} kept in {Syntax} on the medium: {Reason}")]
    private static partial void LogKeptInSyntax(ILogger logger, string instance, string syntax, string reason);

    /// <summary>Folder and file names: readable and unique for /archive; numbered 8-character components for /media.</summary>
    private sealed class FolderNames(bool media)
    {
        private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);

        private string Name(string parent, string key, string readable, string prefix)
        {
            if (_names.TryGetValue(parent + "\n" + key, out var name)) return name;
            var n = _counts[parent] = _counts.GetValueOrDefault(parent) + 1;
            name = media ? $"{prefix}{n:D4}" : Unique(parent, Clean(readable));
            return _names[parent + "\n" + key] = name;
        }

        private readonly HashSet<string> _used = new(StringComparer.OrdinalIgnoreCase);

        private string Unique(string parent, string name)
        {
            var candidate = name;
            for (var i = 2; !_used.Add(parent + "/" + candidate); i++) candidate = $"{name} ({i})";
            return candidate;
        }

        public string PathFor(string patientKey, string patient, string studyKey, string study, string seriesKey, string series, string modality)
        {
            var root = media ? "IMAGES" : "";
            var p = Name(root, patientKey, patient, "PAT");
            var st = Name(root + "/" + p, studyKey, study, "STU");
            var se = Name(root + "/" + p + "/" + st, seriesKey, series, "SER");
            var folder = (media ? root + "/" : "") + $"{p}/{st}/{se}";
            var n = _counts[folder] = _counts.GetValueOrDefault(folder) + 1;
            var prefix = Clean(modality).Replace(" ", "");
            return media ? $"{folder}/IM{n:D6}" : $"{folder}/{(prefix.Length > 0 ? prefix[..Math.Min(2, prefix.Length)] : "IM")}{n:D6}.dcm";
        }

        /// <summary>Keeps names portable: no path separators or characters Windows refuses; trimmed; never empty.</summary>
        private static string Clean(string text)
        {
            var sb = new StringBuilder(text.Length);
            foreach (var c in text.Trim())
                sb.Append(c < 32 || "\\/:*?\"<>|^".Contains(c) ? (c == '^' ? ' ' : '_') : c);
            var s = sb.ToString().Trim().TrimEnd('.');
            if (s.Length > 64) s = s[..64].TrimEnd();
            return s.Length == 0 ? "Unknown" : s;
        }
    }
}

/// <summary>Export settings (root section of appsettings.json).</summary>
public sealed class ExportOptions
{
    /// <summary>Deflate the files in ZIP archives (slower to make, smaller to move); off stores them as they are.</summary>
    public bool ArchiveCompression { get; set; }

    /// <summary>
    /// Minutes an archive built by a job stays downloadable (GET /jobs/{id}/archive) before it is deleted from the
    /// data folder: a ZIP of patient data left on disk indefinitely is a copy nobody watches. 0 keeps archives as long
    /// as their job stays in the history.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(0, 525_600)]
    public int JobArchiveLifetime { get; set; } = 60;

    /// <summary>
    /// Whether POST /instances/{id}/export may write a stored file to a path of the server's file system that the
    /// request names (Orthanc's RestApiWriteToFileSystemEnabled, off by default as there: otherwise a 403 with an
    /// empty body). Only administrators may, and never into the data directory.
    /// </summary>
    public bool RestApiWriteToFileSystemEnabled { get; set; }
}
