using System.ComponentModel.DataAnnotations;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Hosting;

/// <summary>
/// Orthanc's "Dictionary" option: tags a site declares, <c>"0009,1001": ["DS", "FullFidelity", 1, 1, "GEMS_IDEN_01"]</c>
/// (VR, name, minimum and maximum multiplicity, and for a private tag its private creator). Declared entries name the
/// tags in REST answers and give implicit-VR files their VR; they are in force before the first file is read.
/// </summary>
public static class DeclaredTags
{
    /// <summary>The entries, or the first fault found in them.</summary>
    public static (List<DicomUserEntry> Entries, string? Fault) Parse(IReadOnlyDictionary<string, string[]>? declared)
    {
        var entries = new List<DicomUserEntry>();
        foreach (var (key, fields) in declared ?? new Dictionary<string, string[]>())
        {
            if (!DicomTag.TryParse(key, out var tag))
                return (entries, $"Dictionary: '{key}' is not a tag (gggg,eeee)");
            if (fields.Length < 2 || DicomVR.FromCode(fields[0]) is not { } vr)
                return (entries, $"Dictionary: {key} needs a VR and a name, as [\"DS\", \"Name\", 1, 1]");
            var min = fields.Length > 2 ? fields[2] : "1";
            var max = fields.Length > 3 ? fields[3] : "1";
            // Orthanc writes an unbounded maximum as 0.
            var vm = min == max ? min : max == "0" ? $"{min}-n" : $"{min}-{max}";
            var creator = fields.Length > 4 && fields[4].Length > 0 ? fields[4] : null;
            if (tag.IsPrivate && creator is null)
                return (entries, $"Dictionary: the private tag {key} needs its private creator as fifth field");
            entries.Add(new DicomUserEntry(tag, vr, fields[1], vm, creator));
        }
        return (entries, null);
    }

    public static void Apply(IReadOnlyDictionary<string, string[]>? declared)
    {
        var (entries, fault) = Parse(declared);
        if (fault is null) DicomDictionary.Declare(entries);
    }
}

/// <summary>Stops the start on a malformed "Dictionary" entry, with the entry named.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class DeclaredTagsAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        DeclaredTags.Parse(value as IReadOnlyDictionary<string, string[]>).Fault is { } fault ? new ValidationResult(fault) : ValidationResult.Success;
}
