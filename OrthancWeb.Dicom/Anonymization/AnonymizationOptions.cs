using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.Anonymization;

/// <summary>The Basic Profile's options (PS3.15 §E.3) and the caller's explicit exceptions to it.</summary>
public sealed record AnonymizationOptions
{
    /// <summary>Retain Longitudinal Temporal Information with Full Dates Option (§E.3.6).</summary>
    public bool RetainLongFullDates { get; init; }

    /// <summary>Retain Device Identity Option (§E.3.3).</summary>
    public bool RetainDeviceIdentity { get; init; }

    /// <summary>Retain Patient Characteristics Option (§E.3.4).</summary>
    public bool RetainPatientCharacteristics { get; init; }

    /// <summary>Keep private attributes (the profile removes them all unless known safe, §E.3.10).</summary>
    public bool KeepPrivateTags { get; init; }

    /// <summary>Attributes kept as they are, whatever the profile says.</summary>
    public IReadOnlySet<DicomTag> Keep { get; init; } = new HashSet<DicomTag>();

    /// <summary>Attributes removed, whatever the profile says.</summary>
    public IReadOnlySet<DicomTag> Remove { get; init; } = new HashSet<DicomTag>();

    /// <summary>Top-level attributes set to these values (added when absent), after the profile.</summary>
    public IReadOnlyDictionary<DicomTag, string> Replace { get; init; } = new Dictionary<DicomTag, string>();

    /// <summary>The new Patient's Name and Patient ID; generated (once per operation) when not given.</summary>
    public string? PatientName { get; init; }

    public string? PatientId { get; init; }
}
