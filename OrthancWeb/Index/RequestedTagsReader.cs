using System.Globalization;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Index;

/// <summary>
/// The values of the tags a caller asked for, for one resource: Orthanc 1.11's "RequestedTags" (POST /tools/find with
/// "RequestedTags", ?requestedTags= on the resource routes). <see cref="Main"/> holds what the index knows (the
/// resource's main tags and its ancestors', and the counts Orthanc computes); <see cref="FromFile"/> the rest, read from
/// the stored file of the resource, or of one of its instances. A tag found nowhere is in neither, and Orthanc leaves it
/// out of the answer.
/// </summary>
public sealed record RequestedValues(IReadOnlyDictionary<DicomTag, string> Main, DicomDataset? FromFile);

public sealed class RequestedTagsReader(IndexQueries queries, InstanceFiles files)
{
    /// <summary>A list as Orthanc takes it in a query string: keywords or "gggg,eeee", separated by ';'.</summary>
    /// <exception cref="Dicom.DicomValidationException">A name that is no tag.</exception>
    public static IReadOnlyList<DicomTag> Parse(IEnumerable<string> names) =>
        names.SelectMany(n => n.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(n => DicomTag.TryParse(n, out var tag) ? tag : throw new Dicom.DicomValidationException($"Unknown tag in requested tags: {n}"))
            .Distinct().ToList();

    public async Task<RequestedValues> ReadAsync(string publicId, ResourceLevel level, IReadOnlyList<DicomTag> tags, CancellationToken ct)
    {
        var known = (await queries.TagsWithAncestorsAsync([publicId], ct)).GetValueOrDefault(publicId) ?? [];
        var main = new Dictionary<DicomTag, string>();
        var missing = new HashSet<DicomTag>();
        foreach (var tag in tags)
        {
            if (known.TryGetValue(tag, out var value)) main[tag] = value;
            else if (await ComputeAsync(tag, publicId, level, ct) is { } computed) main[tag] = computed;
            else missing.Add(tag);
        }
        if (missing.Count == 0) return new RequestedValues(main, null);
        // Below the instance level, the tags every instance shares are read from one of them (the first, as listed).
        var instance = level == ResourceLevel.Instance ? publicId
            : await queries.RelativesAsync(publicId, level, ResourceLevel.Instance, ct) is { Count: > 0 } instances ? instances[0] : null;
        if (instance is null || await files.FindAsync(instance, ct) is not { } attachment) return new RequestedValues(main, null);
        var file = files.Read(attachment);
        return new RequestedValues(main, file.Dataset.Extract(missing.Contains));
    }

    /// <summary>
    /// The attributes a query can ask of a level that no file holds (PS3.4 C.6.1.1: Number of Patient/Study/Series
    /// Related ..., Modalities in Study), computed at the level they describe, as Orthanc computes them.
    /// </summary>
    private async Task<string?> ComputeAsync(DicomTag tag, string id, ResourceLevel level, CancellationToken ct)
    {
        async Task<string> Count(ResourceLevel target) =>
            ((await queries.RelativesAsync(id, level, target, ct))?.Count ?? 0).ToString(CultureInfo.InvariantCulture);
        if (level == ResourceLevel.Patient)
        {
            if (tag == DicomTags.NumberOfPatientRelatedStudies) return await Count(ResourceLevel.Study);
            if (tag == DicomTags.NumberOfPatientRelatedSeries) return await Count(ResourceLevel.Series);
            if (tag == DicomTags.NumberOfPatientRelatedInstances) return await Count(ResourceLevel.Instance);
        }
        if (level == ResourceLevel.Study)
        {
            if (tag == DicomTags.NumberOfStudyRelatedSeries) return await Count(ResourceLevel.Series);
            if (tag == DicomTags.NumberOfStudyRelatedInstances) return await Count(ResourceLevel.Instance);
            if (tag == DicomTags.ModalitiesInStudy)
            {
                var series = await queries.RelativesAsync(id, level, ResourceLevel.Series, ct) ?? [];
                var modalities = (await queries.TagsWithAncestorsAsync(series, ct)).Values
                    .Select(t => t.GetValueOrDefault(DicomTags.Modality)).OfType<string>().Where(m => m.Length > 0);
                return string.Join('\\', modalities.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
            }
        }
        if (level == ResourceLevel.Series && tag == DicomTags.NumberOfSeriesRelatedInstances) return await Count(ResourceLevel.Instance);
        return null;
    }
}
