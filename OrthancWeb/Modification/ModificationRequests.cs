using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;

namespace OrthancWeb.Modification;

/// <summary>
/// What every request that may run as a job takes, in Orthanc's names: "Synchronous" (Orthanc 1.4) or its opposite
/// "Asynchronous", the job's priority, and "Permissive" (go on past an instance that fails, counting it).
/// </summary>
public abstract record JobRequest
{
    /// <summary>Run as a job, answered with its ID.</summary>
    public bool Asynchronous { get; init; }
    /// <summary>When given, wins over <see cref="Asynchronous"/>: false runs as a job.</summary>
    public bool? Synchronous { get; init; }
    public int Priority { get; init; }
    public bool Permissive { get; init; }

    /// <summary>Synchronously unless asked otherwise, as Orthanc.</summary>
    [JsonIgnore]
    public bool RunsAsJob => Synchronous is { } synchronous ? !synchronous : Asynchronous;
}

/// <summary>What /anonymize and /modify share, in Orthanc's names. Tags are keywords or "gggg,eeee".</summary>
public abstract record ResourceChangeRequest : JobRequest
{
    /// <summary>Tag to new value.</summary>
    public Dictionary<string, string> Replace { get; init; } = [];
    public IReadOnlyList<string> Keep { get; init; } = [];
    public IReadOnlyList<string> Remove { get; init; } = [];
    /// <summary>False deletes the original once the new resource is stored.</summary>
    public bool KeepSource { get; init; } = true;
    /// <summary>
    /// A transfer syntax UID the new instances are written in (Orthanc 1.9's "Transcode"); null keeps each one's own.
    /// </summary>
    public string? Transcode { get; init; }

    /// <summary>The syntax <see cref="Transcode"/> names, or a 400 naming what is wrong with it.</summary>
    public TransferSyntax? TranscodeTarget()
    {
        if (Transcode is null) return null;
        try
        {
            return Transcoder.ParseTarget(Transcode);
        }
        catch (ImagingException ex)
        {
            throw new DicomValidationException($"Transcode: {ex.Message}", ex);
        }
    }

    protected Dictionary<DicomTag, string> ReplaceTags() => Replace.ToDictionary(r => Tag(r.Key, nameof(Replace)), r => r.Value);

    protected static HashSet<DicomTag> Tags(IEnumerable<string> keys, string field) => keys.Select(k => Tag(k, field)).ToHashSet();

    internal static DicomTag Tag(string key, string field) =>
        DicomTag.TryParse(key, out var tag) ? tag : throw new DicomValidationException($"Unknown DICOM tag \"{key}\" in field: {field}");
}

/// <summary>POST /{level}/{id}/anonymize: PS3.15 Basic Profile, with Orthanc's options and the profile's retain options.</summary>
public record AnonymizationRequest : ResourceChangeRequest
{
    public bool KeepPrivateTags { get; init; }
    public bool RetainLongFullDates { get; init; }
    public bool RetainDeviceIdentity { get; init; }
    public bool RetainPatientCharacteristics { get; init; }

    public AnonymizationOptions ToOptions()
    {
        var replace = ReplaceTags();
        string? Take(DicomTag tag) => replace.Remove(tag, out var v) ? v : null;
        return new AnonymizationOptions
        {
            PatientName = Take(DicomTags.PatientName),
            PatientId = Take(DicomTags.PatientID),
            Replace = replace,
            Keep = Tags(Keep, nameof(Keep)),
            Remove = Tags(Remove, nameof(Remove)),
            KeepPrivateTags = KeepPrivateTags,
            RetainLongFullDates = RetainLongFullDates,
            RetainDeviceIdentity = RetainDeviceIdentity,
            RetainPatientCharacteristics = RetainPatientCharacteristics,
        };
    }
}

/// <summary>POST /{level}/{id}/modify: changing or keeping an identifier needs "Force"; keeping every UID modifies in place.</summary>
public record ModificationRequest : ResourceChangeRequest
{
    public bool RemovePrivateTags { get; init; }
    public bool Force { get; init; }

    /// <summary>The toolkit's options, checked: a change that would break the hierarchy is refused with the reason.</summary>
    public ModificationOptions ToOptions(ResourceLevel level)
    {
        var options = new ModificationOptions
        {
            Level = level switch
            {
                ResourceLevel.Patient => ModificationLevel.Patient,
                ResourceLevel.Study => ModificationLevel.Study,
                ResourceLevel.Series => ModificationLevel.Series,
                _ => ModificationLevel.Instance,
            },
            Replace = ReplaceTags(),
            Remove = Tags(Remove, nameof(Remove)),
            Keep = Tags(Keep, nameof(Keep)),
            RemovePrivateTags = RemovePrivateTags,
            Force = Force,
        };
        try
        {
            DicomModifier.Validate(options);
        }
        catch (ArgumentException ex)
        {
            throw new DicomValidationException(ex.Message, ex);
        }
        return options;
    }
}

public static class ModificationResults
{
    /// <summary>
    /// Orthanc 1.10.1's answer for a new patient, study or series, the public content of its ResourceModification job:
    /// {"Description", "FailedInstancesCount", "ID", "InstancesCount", "IsAnonymization", "Path", "PatientID", "Type"}
    /// (a failed instance fails the whole run here, so the failed count is 0 whenever there is an answer).
    /// </summary>
    public static JsonObject ToJson(ModifiedResource r, bool isAnonymization, int instancesCount) =>
        new()
        {
            ["Description"] = "REST API", ["FailedInstancesCount"] = 0, ["ID"] = r.Id, ["InstancesCount"] = instancesCount,
            ["IsAnonymization"] = isAnonymization, ["Path"] = r.Path, ["PatientID"] = r.PatientId, ["Type"] = r.Type,
        };
}
