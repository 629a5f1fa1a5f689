using System.ComponentModel.DataAnnotations;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Routing;

/// <summary>When a rule looks at what arrived: each instance, or a series / study once it is stable (StableAge).</summary>
public enum RoutingTrigger
{
    Instance,
    StableSeries,
    StableStudy,
}

/// <summary>
/// "When an instance/series/study arrives matching these conditions, anonymize it and/or forward it": what Orthanc
/// users write Lua scripts for, as data. Conditions left empty match everything; tag values take * and ? wildcards.
/// </summary>
public sealed class RoutingRule
{
    [Required, StringLength(64, MinimumLength = 1)]
    public string Name { get; set; } = "";

    public RoutingTrigger Trigger { get; set; } = RoutingTrigger.StableStudy;

    /// <summary>The AE title that sent the instances (metadata RemoteAET).</summary>
    public string? CallingAet { get; set; }

    public string? Modality { get; set; }

    /// <summary>Tag (keyword or gggg,eeee) to value pattern, e.g. "BodyPartExamined": "CHEST*".</summary>
    public Dictionary<string, string> Tags { get; set; } = [];

    public bool Anonymize { get; set; }
    public bool RetainLongFullDates { get; set; }
    public bool RetainDeviceIdentity { get; set; }
    public bool RetainPatientCharacteristics { get; set; }
    public bool KeepPrivateTags { get; set; }

    /// <summary>Modality names to send to (the anonymized copy when Anonymize is set).</summary>
    public List<string> ForwardTo { get; set; } = [];

    /// <summary>
    /// After each send to a modality, ask it to commit to the instances (Storage Commitment, PS3.4 J.3) and wait for its
    /// report: the route fails (and is retried) when the report is missing or names an instance not committed.
    /// </summary>
    public bool StorageCommitment { get; set; }

    /// <summary>DICOMweb server names to send to by STOW-RS (the anonymized copy when Anonymize is set).</summary>
    public List<string> ForwardToDicomWeb { get; set; } = [];

    [Range(0, 1000)] public int Retries { get; set; } = 3;
    [Range(1, 86400)] public int RetryDelay { get; set; } = 30;

    /// <summary>Why the rule cannot work, or null.</summary>
    public string? Problem()
    {
        if (string.IsNullOrWhiteSpace(Name)) return "a rule needs a name";
        if (!Anonymize && ForwardTo.Count == 0 && ForwardToDicomWeb.Count == 0) return $"rule {Name} neither anonymizes nor forwards";
        foreach (var key in Tags.Keys)
            if (!DicomTag.TryParse(key, out _)) return $"rule {Name}: unknown tag {key}";
        return null;
    }
}

/// <summary>Routing rules of appsettings.json (OrthancWeb:Routing).</summary>
public sealed class RoutingOptions
{
    public List<RoutingRule> Routing { get; set; } = [];
}
