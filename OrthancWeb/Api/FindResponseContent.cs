using System.Text.Json.Nodes;
using OrthancWeb.Annotations;
using OrthancWeb.Index;

namespace OrthancWeb.Api;

/// <summary>The parts of a resource that /tools/find's "ResponseContent" (Orthanc 1.12.5) can ask for.</summary>
[Flags]
public enum ResponseContent
{
    None = 0,
    MainDicomTags = 1,
    Metadata = 2,
    Children = 4,
    Parent = 8,
    Labels = 16,
    Status = 32,
    IsStable = 64,
    IsProtected = 128,
    Attachments = 256,
}

/// <summary>
/// Orthanc 1.12.5's "ResponseContent" in POST /tools/find: each answer is an object with "ID" and "Type" and only the
/// parts named, in the field names of the expanded answer (ApiJson.Resource). As Orthanc's ResourceFinder::Expand
/// (OrthancServer/Sources/ResourceFinder.cpp) has it: the parts a level does not have are left out (no parent for a
/// patient, no children for an instance, "Status" only for a series, "IsStable" not for an instance), the fields Expand
/// adds besides (LastUpdate, FileSize, FileUuid, IndexInSeries, ExpectedNumberOfInstances) are not in it, "Metadata" is
/// an object of name to value, "Attachments" an array of what /{level}/{id}/attachments/{name}/info gives for each.
/// "IsProtected" (patients) is listed by Orthanc's OpenAPI, not by its StringToResponseContent: we take it.
/// </summary>
public static class FindResponseContent
{
    /// <summary>
    /// The parts named; false with the first unknown name (Orthanc: 400, ParameterOutOfRange). The names are
    /// case-sensitive, as in Orthanc's StringToResponseContent.
    /// </summary>
    public static bool TryParse(IEnumerable<string> names, out ResponseContent content, out string? unknown)
    {
        content = ResponseContent.None;
        unknown = null;
        foreach (var name in names)
        {
            if (!Names.TryGetValue(name, out var part))
            {
                unknown = name;
                return false;
            }
            content |= part;
        }
        return true;
    }

    private static readonly Dictionary<string, ResponseContent> Names = Enum.GetValues<ResponseContent>()
        .Where(p => p != ResponseContent.None).ToDictionary(p => p.ToString(), StringComparer.Ordinal);

    /// <summary>What the index must read for these parts: nothing else (no children query unless Children is asked for).</summary>
    public static ResourceParts PartsFor(ResponseContent content)
    {
        var parts = ResourceParts.None;
        if (content.HasFlag(ResponseContent.MainDicomTags)) parts |= ResourceParts.MainDicomTags;
        if (content.HasFlag(ResponseContent.Metadata)) parts |= ResourceParts.Metadata;
        if (content.HasFlag(ResponseContent.Children)) parts |= ResourceParts.Children;
        if (content.HasFlag(ResponseContent.Labels)) parts |= ResourceParts.Labels;
        if (content.HasFlag(ResponseContent.Attachments)) parts |= ResourceParts.Attachments;
        return parts;
    }

    /// <summary>
    /// The answer for one resource. <paramref name="attachments"/>: the resource's attachments with their MD5s known
    /// (the DICOM file's are computed on first request, see <see cref="InstanceFiles.Md5Async"/>).
    /// </summary>
    public static JsonObject ToJson(ResourceInfo r, ResponseContent content, TagFormat format, AnnotationCatalog catalog,
        IReadOnlyList<ResourceAttachment>? attachments)
    {
        var o = new JsonObject { ["ID"] = r.PublicId, ["Type"] = r.Level.ToOrthancType() };
        if (content.HasFlag(ResponseContent.Parent) && r.Level != ResourceLevel.Patient)
            o[r.Level switch { ResourceLevel.Study => "ParentPatient", ResourceLevel.Series => "ParentStudy", _ => "ParentSeries" }] = r.ParentId;
        if (content.HasFlag(ResponseContent.Children) && r.Level != ResourceLevel.Instance)
            o[r.Level switch { ResourceLevel.Patient => "Studies", ResourceLevel.Study => "Series", _ => "Instances" }] =
                new JsonArray(r.ChildrenIds.Select(c => (JsonNode)c).ToArray());
        // Always "Unknown", as in our expanded series: ExpectedNumberOfInstances is not recorded.
        if (content.HasFlag(ResponseContent.Status) && r.Level == ResourceLevel.Series) o["Status"] = "Unknown";
        if (content.HasFlag(ResponseContent.IsStable) && r.Level != ResourceLevel.Instance) o["IsStable"] = r.IsStable;
        if (content.HasFlag(ResponseContent.IsProtected) && r.Level == ResourceLevel.Patient) o["IsProtected"] = r.IsProtected;
        if (content.HasFlag(ResponseContent.MainDicomTags))
        {
            o["MainDicomTags"] = ApiJson.Tags(r.MainDicomTags, format);
            if (r.Level == ResourceLevel.Study)
                o["PatientMainDicomTags"] = ApiJson.Tags(r.PatientMainDicomTags ?? new Dictionary<Dicom.Data.DicomTag, string>(), format);
        }
        if (content.HasFlag(ResponseContent.Labels))
            o["Labels"] = new JsonArray((r.Labels ?? []).Select(l => (JsonNode)l).ToArray());
        if (content.HasFlag(ResponseContent.Metadata)) o["Metadata"] = Metadata(r, catalog);
        if (content.HasFlag(ResponseContent.Attachments))
            o["Attachments"] = new JsonArray((attachments ?? []).Select(a => (JsonNode)new JsonObject
            {
                ["CompressedMD5"] = a.File.CompressedMd5, ["CompressedSize"] = a.File.CompressedSize, ["ContentType"] = a.ContentType,
                ["UncompressedMD5"] = a.File.UncompressedMd5, ["UncompressedSize"] = a.File.UncompressedSize, ["Uuid"] = a.File.Uuid,
            }).ToArray());
        return o;
    }

    /// <summary>Name to value, as /{level}/{id}/metadata?expand shows them (LastUpdate of a patient, study or series included).</summary>
    private static JsonObject Metadata(ResourceInfo r, AnnotationCatalog catalog)
    {
        var items = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (stored, value) in r.Metadata) items[catalog.MetadataName(stored)] = value;
        if (r.Level != ResourceLevel.Instance) items.TryAdd("LastUpdate", OrthancTime.Format(r.LastUpdate));
        var o = new JsonObject();
        foreach (var (name, value) in items) o[name] = value;
        return o;
    }
}
