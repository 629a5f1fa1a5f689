using System.ComponentModel.DataAnnotations;

namespace OrthancWeb.Worklists;

/// <summary>What happens to a worklist item once images of its procedure arrive (their accession number or study UID).</summary>
public enum ArrivalAction
{
    /// <summary>Left as it is: still offered to the modalities.</summary>
    Keep,
    /// <summary>Marked performed (shown as such, no longer offered to the modalities).</summary>
    Mark,
    /// <summary>Deleted.</summary>
    Remove,
}

/// <summary>"Worklists" under "OrthancWeb": the items of the index, and optionally a folder of DCMTK-style .wl files.</summary>
public sealed class WorklistOptions : IValidatableObject
{
    /// <summary>
    /// A folder of worklist files (*.wl, Part 10 or bare data sets, as DCMTK's wlmscpfs and Orthanc's worklists plugin
    /// read them), served alongside the items of the index and read at each query, so files can come and go. Empty: none.
    /// </summary>
    public string Folder { get; set; } = "";

    /// <summary>What an arriving image does to its item (default Mark).</summary>
    public ArrivalAction OnArrival { get; set; } = ArrivalAction.Mark;

    /// <summary>The most items one query answers (a modality asking for everything gets the first ones by schedule).</summary>
    [Range(1, 100000)]
    public int MaximumAnswers { get; set; } = 1000;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Folder.Length > 0 && !Directory.Exists(Folder))
            yield return new ValidationResult($"Worklists:Folder '{Folder}' is not a folder", [nameof(Folder)]);
    }
}
