namespace OrthancWeb.Index;

/// <summary>The four levels of the DICOM model of the real world (PS3.3 §7), Orthanc's resource types.</summary>
public enum ResourceLevel
{
    Patient = 0,
    Study = 1,
    Series = 2,
    Instance = 3,
}

public static class ResourceLevelExtensions
{
    /// <summary>"Patient", "Study", "Series", "Instance": Orthanc's "Type" field.</summary>
    public static string ToOrthancType(this ResourceLevel level) => level.ToString();

    /// <summary>"patients", "studies", "series", "instances": the REST collection.</summary>
    public static string ToCollection(this ResourceLevel level) => level switch
    {
        ResourceLevel.Patient => "patients",
        ResourceLevel.Study => "studies",
        ResourceLevel.Series => "series",
        _ => "instances",
    };

    /// <summary>A level named by a REST route, whose constraint lets only level names through.</summary>
    public static ResourceLevel Parse(string text) =>
        TryParse(text, out var level) ? level : throw new ArgumentException($"Not a resource level: {text}", nameof(text));

    public static bool TryParse(string text, out ResourceLevel level)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "patient" or "patients": level = ResourceLevel.Patient; return true;
            case "study" or "studies": level = ResourceLevel.Study; return true;
            case "series": level = ResourceLevel.Series; return true;
            case "instance" or "instances" or "image": level = ResourceLevel.Instance; return true;
            default: level = default; return false;
        }
    }
}
