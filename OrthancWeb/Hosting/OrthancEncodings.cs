using System.ComponentModel.DataAnnotations;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Hosting;

/// <summary>
/// Orthanc's names for the encodings of DefaultEncoding and /tools/default-encoding, and the Specific Character Set
/// term (PS3.3 C.12.1.1.2) each stands for. The one in force is the toolkit's <see cref="DicomCharacterSet.Fallback"/>.
/// </summary>
public static class OrthancEncodings
{
    private static readonly Dictionary<string, string> Terms = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Ascii"] = "ISO_IR 6",
        ["Latin1"] = "ISO_IR 100",
        ["Latin2"] = "ISO_IR 101",
        ["Latin3"] = "ISO_IR 109",
        ["Latin4"] = "ISO_IR 110",
        ["Latin5"] = "ISO_IR 148",
        ["Cyrillic"] = "ISO_IR 144",
        ["Arabic"] = "ISO_IR 127",
        ["Greek"] = "ISO_IR 126",
        ["Hebrew"] = "ISO_IR 138",
        ["Thai"] = "ISO_IR 166",
        ["Japanese"] = "ISO_IR 13",
        ["Chinese"] = "GB18030",
        ["SimplifiedChinese"] = "GBK",
        ["Utf8"] = "ISO_IR 192",
    };

    private static volatile string _current = "Latin1";

    /// <summary>The name in force, as Orthanc spells it.</summary>
    public static string Current => _current;

    public static bool IsKnown(string? name) => name is not null && Terms.ContainsKey(name);

    /// <summary>Makes <paramref name="name"/> the encoding of data sets that do not declare theirs; false if unknown.</summary>
    public static bool TryApply(string name)
    {
        if (!Terms.TryGetValue(name.Trim(), out var term)) return false;
        DicomCharacterSet.Fallback = new DicomCharacterSet([term]);
        _current = Terms.Keys.First(k => string.Equals(k, name.Trim(), StringComparison.OrdinalIgnoreCase));
        return true;
    }

    public static IEnumerable<string> Names => Terms.Keys;
}

/// <summary>Validates DefaultEncoding at start-up against Orthanc's names.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OrthancEncodingAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        value is null || OrthancEncodings.IsKnown(value as string) ? ValidationResult.Success
            : new ValidationResult($"DefaultEncoding '{value}' is not one of {string.Join(", ", OrthancEncodings.Names)}");
}
