using System.Buffers;
using System.Text.Json;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Index;

namespace OrthancWeb.DicomWeb.Server;

/// <summary>A QIDO-RS search (PS3.18 10.6): the level, the UIDs of the path, and the query parameters as given.</summary>
public sealed record QidoRequest(ResourceLevel Level, string? StudyUid, string? SeriesUid, IReadOnlyList<KeyValuePair<string, string>> Parameters, string Root);

/// <summary>The matches as a DICOM JSON array, and the Warning header values for what was not done as asked (8.3.4, 8.4.2).</summary>
public sealed record QidoResult(byte[] Json, IReadOnlyList<string> Warnings, int Count);

/// <summary>
/// QIDO-RS answered from the index alone: the matching of PS3.4 C.2.2.2 as <see cref="IndexQueries.FindAsync"/> does it
/// on the main tags (the attributes PS3.18 Table 10.6.1-5 requires matching on are all among them, but SOP Class UID,
/// kept as instance metadata), the default return attributes of Tables 10.6.3-3 to -5 from the main tags, grouped
/// counts and the JSON rows kept at ingest. No stored file is opened.
/// </summary>
public sealed class QidoService(IndexQueries queries, IAuditTrail audit)
{
    /// <summary>Matches answered at most, whatever limit a client asks (8.3.4.4: the server may return fewer, with a Warning).</summary>
    public const int MaximumResults = 1000;

    /// <summary>Candidates from the index that a filter beyond the main tags (SOP class, JSON rows) looks at, at most.</summary>
    public const int MaximumScanned = 100_000;

    private static readonly DicomTag[] StudyDefaults =
    [
        DicomTags.StudyDate, DicomTags.StudyTime, DicomTags.AccessionNumber, DicomTags.InstanceAvailability, DicomTags.ModalitiesInStudy,
        DicomTags.ReferringPhysicianName, DicomTags.RetrieveURL, DicomTags.PatientName, DicomTags.PatientID, DicomTags.PatientBirthDate,
        DicomTags.PatientSex, DicomTags.StudyInstanceUID, DicomTags.StudyID, DicomTags.NumberOfStudyRelatedSeries, DicomTags.NumberOfStudyRelatedInstances,
        DicomTags.StudyDescription,
    ];

    private static readonly DicomTag[] SeriesDefaults =
    [
        DicomTags.Modality, DicomTags.SeriesDescription, DicomTags.RetrieveURL, DicomTags.SeriesInstanceUID, DicomTags.SeriesNumber,
        DicomTags.NumberOfSeriesRelatedInstances, DicomTags.PerformedProcedureStepStartDate, DicomTags.PerformedProcedureStepStartTime,
    ];

    private static readonly DicomTag[] InstanceDefaults =
    [
        DicomTags.SOPClassUID, DicomTags.SOPInstanceUID, DicomTags.InstanceAvailability, DicomTags.RetrieveURL, DicomTags.InstanceNumber,
        DicomTags.Rows, DicomTags.Columns, DicomTags.BitsAllocated, DicomTags.NumberOfFrames,
    ];

    private static readonly HashSet<DicomTag> Computed =
    [
        DicomTags.ModalitiesInStudy, DicomTags.NumberOfStudyRelatedSeries, DicomTags.NumberOfStudyRelatedInstances,
        DicomTags.NumberOfSeriesRelatedInstances, DicomTags.InstanceAvailability, DicomTags.RetrieveURL,
    ];

    public async Task<QidoResult> SearchAsync(QidoRequest request, CancellationToken ct)
    {
        var level = request.Level;
        var warnings = new List<string>();
        var constraints = new List<FindConstraint>();
        var includes = new HashSet<DicomTag>();
        var includeAll = false;
        int? limit = null;
        var offset = 0;
        List<string>? sopClasses = null;
        var jsonFilters = new List<(DicomTag Tag, string Value)>();
        if (request.StudyUid is not null) constraints.Add(new FindConstraint(DicomTags.StudyInstanceUID, request.StudyUid));
        if (request.SeriesUid is not null) constraints.Add(new FindConstraint(DicomTags.SeriesInstanceUID, request.SeriesUid));

        foreach (var (key, value) in request.Parameters)
        {
            switch (key.ToLowerInvariant())
            {
                case "limit":
                    limit = int.TryParse(value, out var l) && l >= 0 ? l : throw DicomWebException.BadRequest($"limit must be a non-negative integer, not '{value}'");
                    continue;
                case "offset":
                    offset = int.TryParse(value, out var o) && o >= 0 ? o : throw DicomWebException.BadRequest($"offset must be a non-negative integer, not '{value}'");
                    continue;
                case "fuzzymatching":
                    if (value.Equals("true", StringComparison.OrdinalIgnoreCase))
                        warnings.Add(DicomWebMedia.Warning("The fuzzymatching parameter is not supported. Only literal matching has been performed."));
                    continue;
                case "includefield":
                    foreach (var field in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (field.Equals("all", StringComparison.OrdinalIgnoreCase)) includeAll = true;
                        else if (DicomTag.TryParse(field, out var t)) includes.Add(t);
                        else if (field.Contains('.')) warnings.Add(DicomWebMedia.Warning($"includefield {field}: sequence paths are not supported and were ignored"));
                        else throw DicomWebException.BadRequest($"includefield {field} is neither a DICOM keyword nor a tag");
                    }
                    continue;
                case "accept" or "charset":
                    continue;
            }
            if (key.Contains('.'))
            {
                warnings.Add(DicomWebMedia.Warning($"The following attributes were not matched: {key} (sequence matching is not supported)"));
                continue;
            }
            if (!DicomTag.TryParse(key, out var tag)) throw DicomWebException.BadRequest($"{key} is neither a query parameter of QIDO-RS nor a DICOM keyword or tag");
            var vr = DicomDictionary.Find(tag)?.DefaultVR;
            // UID lists may be separated by commas too (8.3.4.1).
            var match = vr == DicomVR.UI ? value.Replace(',', '\\') : value;
            includes.Add(tag);
            if (tag == DicomTags.SOPClassUID && level == ResourceLevel.Instance)
                sopClasses = [.. match.Split('\\', StringSplitOptions.RemoveEmptyEntries)];
            else if (MainDicomTags.LevelOf(tag == DicomTags.ModalitiesInStudy ? DicomTags.Modality : tag) is not null)
                constraints.Add(new FindConstraint(tag, match));
            else if (level == ResourceLevel.Instance && match.Length > 0)
                jsonFilters.Add((tag, match));
            else if (match.Length > 0)
                warnings.Add(DicomWebMedia.Warning($"The following attributes were not matched: {DicomDictionary.Find(tag)?.Keyword ?? tag.ToJsonKey()} (not kept in the index at {level} level)"));
        }

        var take = Math.Min(limit ?? MaximumResults, MaximumResults);
        IReadOnlyList<string> ids;
        var more = false;
        try
        {
            var find = new FindRequest(level, constraints, CaseSensitive: true, PersonNamesIgnoreCase: true);
            if (sopClasses is null && jsonFilters.Count == 0)
            {
                ids = await queries.FindAsync(find with { Since = offset, Limit = take + 1 }, ct);
            }
            else
            {
                // Filters beyond the main tags run over the candidates, then the page is cut from what matched.
                var candidates = await queries.FindAsync(find with { Limit = MaximumScanned + 1 }, ct);
                if (candidates.Count > MaximumScanned)
                {
                    candidates = candidates.Take(MaximumScanned).ToList();
                    warnings.Add(DicomWebMedia.Warning($"Only the first {MaximumScanned:N0} candidates were checked for the attributes the index does not hold: add a key such as StudyInstanceUID"));
                }
                var kept = new List<string>();
                foreach (var page in candidates.Chunk(500))
                {
                    var chunk = page.ToList();
                    if (sopClasses is not null)
                    {
                        var ofClass = await queries.WithSopClassAsync(chunk, sopClasses, ct);
                        chunk = chunk.Where(ofClass.Contains).ToList();
                    }
                    if (jsonFilters.Count > 0)
                    {
                        var rows = await queries.QidoExtrasAsync(level, chunk, withJson: true, ct);
                        chunk = chunk.Where(id => rows.TryGetValue(id, out var x) && x.Json is not null && JsonMatches(x.Json, jsonFilters)).ToList();
                    }
                    kept.AddRange(chunk);
                    if (kept.Count > offset + take) break;
                }
                ids = kept.Skip(offset).Take(take + 1).ToList();
            }
        }
        catch (FindException ex)
        {
            throw DicomWebException.BadRequest(ex.Message);
        }
        if (ids.Count > take)
        {
            more = true;
            ids = ids.Take(take).ToList();
        }
        if (more && (limit is null || limit > MaximumResults))
            warnings.Add(DicomWebMedia.Warning($"The number of results exceeded the maximum supported by the server ({MaximumResults}). Additional results can be requested."));

        audit.Record(new AuditEvent(AuditActions.Query, AuditOutcome.Success)
        {
            ResourceLevel = level.ToString(),
            // The study and patient the query names, from the path or from its keys.
            StudyInstanceUid = request.StudyUid ?? constraints.FirstOrDefault(c => c.Tag == DicomTags.StudyInstanceUID)?.Value,
            PatientId = constraints.FirstOrDefault(c => c.Tag == DicomTags.PatientID)?.Value,
            Details = $"QIDO-RS {level}: {ids.Count} match(es) for {constraints.Count} key(s)",
        });

        var returned = new HashSet<DicomTag>(includes);
        // Searching a level across studies (or series) returns the levels above it too (PS3.18 10.6.3.3.2).
        if (level == ResourceLevel.Study || request.StudyUid is null) returned.UnionWith(StudyDefaults);
        if (level == ResourceLevel.Series || level == ResourceLevel.Instance && request.SeriesUid is null) returned.UnionWith(SeriesDefaults);
        if (level == ResourceLevel.Instance) returned.UnionWith(InstanceDefaults);
        returned.Remove(DicomTags.SpecificCharacterSet); // the JSON is UTF-8 (F.2)
        var needJson = level == ResourceLevel.Instance || includeAll || returned.Any(t => !Computed.Contains(t) && MainDicomTags.LevelOf(t) is null && t != DicomTags.SOPClassUID);

        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (var page in ids.Chunk(200))
            {
                var tags = await queries.TagsWithAncestorsAsync(page, ct);
                var extras = await queries.QidoExtrasAsync(level, page, needJson, ct);
                foreach (var id in page)
                {
                    if (!tags.TryGetValue(id, out var values)) continue; // deleted meanwhile
                    WriteMatch(w, level, values, extras.GetValueOrDefault(id), returned, includeAll, request.Root);
                }
            }
            w.WriteEndArray();
        }
        return new QidoResult(buffer.WrittenSpan.ToArray(), warnings, ids.Count);
    }

    private static void WriteMatch(Utf8JsonWriter w, ResourceLevel level, Dictionary<DicomTag, string> values, QidoExtras? extras, HashSet<DicomTag> returned,
        bool includeAll, string root)
    {
        var attributes = new SortedDictionary<uint, Action>();
        void Text(DicomTag tag, string value) => attributes[tag.Value] = () =>
            DicomJsonModel.WriteAttribute(w, tag, DicomDictionary.Find(tag)?.DefaultVR ?? DicomVR.UN, value.Length == 0 ? [] : value.Split('\\'));

        using var json = extras?.Json is { } row ? JsonDocument.Parse(Inflate(row), new JsonDocumentOptions { MaxDepth = DicomJsonModel.MaximumJsonDepth }) : null;
        if (json is not null && (includeAll && level == ResourceLevel.Instance || returned.Count > 0))
        {
            foreach (var p in json.RootElement.EnumerateObject())
            {
                if (!DicomTag.TryParse(p.Name, out var tag) || tag == DicomTags.SpecificCharacterSet) continue;
                if (p.Value.TryGetProperty("BulkDataURI", out _)) continue; // bulk data are for WADO-RS
                if (returned.Contains(tag) || includeAll && level == ResourceLevel.Instance)
                {
                    var element = p.Value.Clone();
                    var name = p.Name;
                    attributes[tag.Value] = () => { w.WritePropertyName(name); element.WriteTo(w); };
                }
            }
        }
        foreach (var (tag, value) in values)
            if (returned.Contains(tag) || includeAll) Text(tag, value);

        var study = values.GetValueOrDefault(DicomTags.StudyInstanceUID, "");
        var series = values.GetValueOrDefault(DicomTags.SeriesInstanceUID, "");
        var sop = values.GetValueOrDefault(DicomTags.SOPInstanceUID, "");
        foreach (var tag in returned)
        {
            if (tag == DicomTags.InstanceAvailability) Text(tag, "ONLINE");
            else if (tag == DicomTags.RetrieveURL)
                Text(tag, level switch
                {
                    ResourceLevel.Study => $"{root}studies/{study}",
                    ResourceLevel.Series => $"{root}studies/{study}/series/{series}",
                    _ => $"{root}studies/{study}/series/{series}/instances/{sop}",
                });
            else if (extras is null) continue;
            else if (tag == DicomTags.ModalitiesInStudy && level == ResourceLevel.Study) Text(tag, string.Join('\\', extras.Modalities));
            else if (tag == DicomTags.NumberOfStudyRelatedSeries && level == ResourceLevel.Study) Text(tag, Numbers.Text(extras.Series));
            else if (tag == DicomTags.NumberOfStudyRelatedInstances && level == ResourceLevel.Study) Text(tag, Numbers.Text(extras.Instances));
            else if (tag == DicomTags.NumberOfSeriesRelatedInstances && level == ResourceLevel.Series) Text(tag, Numbers.Text(extras.Instances));
            else if (tag == DicomTags.SOPClassUID && extras.SopClassUid is { Length: > 0 } sopClass) Text(tag, sopClass);
        }
        // A return key the match has no value for is sent empty (PS3.4 C.4.1.1.3.2, as a C-FIND answer would).
        foreach (var tag in returned)
            if (!attributes.ContainsKey(tag.Value) && MainDicomTags.LevelOf(tag) is { } holder && holder <= level) Text(tag, "");

        w.WriteStartObject();
        foreach (var write in attributes.Values) write();
        w.WriteEndObject();
    }

    private static byte[] Inflate(byte[] row)
    {
        var buffer = new ArrayBufferWriter<byte>(row.Length * 4);
        InstanceMetadataJson.WriteTo(buffer, row, ""u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Single value, wildcard, list and range matching (PS3.4 C.2.2.2) on attributes of a JSON row.</summary>
    private static bool JsonMatches(byte[] row, List<(DicomTag Tag, string Value)> filters)
    {
        var ds = InstanceMetadataJson.Decode(row);
        foreach (var (tag, value) in filters)
        {
            var actual = ds.GetStrings(tag);
            if (!actual.Any(a => ValueMatches(a, value, DicomDictionary.Find(tag)?.DefaultVR))) return false;
        }
        return true;
    }

    internal static bool ValueMatches(string actual, string wanted, DicomVR? vr)
    {
        if (wanted.Contains('\\')) return wanted.Split('\\').Any(w => ValueMatches(actual, w, vr));
        if ((vr == DicomVR.DA || vr == DicomVR.TM || vr == DicomVR.DT) && wanted.Contains('-'))
        {
            var dash = wanted.IndexOf('-');
            var (lo, hi) = (wanted[..dash], wanted[(dash + 1)..]);
            return (lo.Length == 0 || string.CompareOrdinal(actual, lo) >= 0) && (hi.Length == 0 || string.CompareOrdinal(actual, hi + "\uffff") <= 0);
        }
        if (wanted.Contains('*') || wanted.Contains('?')) return new WildcardPattern(wanted, ignoreCase: vr == DicomVR.PN).IsMatch(actual);
        return vr == DicomVR.PN ? actual.Equals(wanted, StringComparison.OrdinalIgnoreCase) : actual == wanted;
    }
}
