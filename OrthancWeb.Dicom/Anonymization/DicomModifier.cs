using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Anonymization;

/// <summary>The level a modification applies to: it decides which identifiers get new values.</summary>
public enum ModificationLevel
{
    Patient,
    Study,
    Series,
    Instance,
}

/// <summary>What to change (Orthanc's /modify body): values to set, attributes to remove, UIDs to keep.</summary>
public sealed record ModificationOptions
{
    public ModificationLevel Level { get; init; } = ModificationLevel.Instance;

    public IReadOnlyDictionary<DicomTag, string> Replace { get; init; } = new Dictionary<DicomTag, string>();

    public IReadOnlySet<DicomTag> Remove { get; init; } = new HashSet<DicomTag>();

    /// <summary>Identifiers not to regenerate (e.g. SOPInstanceUID, to modify "in place").</summary>
    public IReadOnlySet<DicomTag> Keep { get; init; } = new HashSet<DicomTag>();

    public bool RemovePrivateTags { get; init; }

    /// <summary>Changing an identifier (PatientID below patient level, any of the three instance UIDs) must be asked for.</summary>
    public bool Force { get; init; }
}

/// <summary>
/// Changes attributes of data sets and gives the modified resources new identities, as Orthanc does: modifying a
/// study makes a new study (new Study, Series and SOP Instance UIDs) beside the original; a series, new series and
/// instance UIDs; an instance, a new SOP Instance UID; a patient keeps its UIDs (its new Patient ID already makes it
/// another patient). UIDs are mapped consistently across the operation.
/// </summary>
public sealed class DicomModifier
{
    private static readonly DicomTag[] Identifiers =
        [DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID];

    private readonly ModificationOptions _options;

    public DicomModifier(ModificationOptions options, UidMap? uids = null)
    {
        Validate(options);
        _options = options;
        Uids = uids ?? new UidMap();
    }

    public UidMap Uids { get; }

    /// <summary>Refuses what would silently break the hierarchy; the messages are shown to REST and UI users.</summary>
    public static void Validate(ModificationOptions o)
    {
        foreach (var tag in o.Replace.Keys.Concat(o.Remove).Concat(o.Keep))
        {
            var isIdentifier = Identifiers.Contains(tag) || (tag == DicomTags.PatientID && o.Level != ModificationLevel.Patient);
            if (isIdentifier && !o.Force)
                throw new ArgumentException($"Changing or keeping {DicomDictionary.Find(tag)?.Keyword ?? tag.ToString()} requires \"Force\": true");
            if (tag.Group == 0x0002)
                throw new ArgumentException("The file meta information (group 0002) cannot be modified");
            if (tag == DicomTags.PixelData && o.Replace.ContainsKey(tag))
                throw new ArgumentException("PixelData cannot be replaced");
        }
        if (o.Level == ModificationLevel.Patient && !o.Replace.ContainsKey(DicomTags.PatientID))
            throw new ArgumentException("Modifying a patient requires a new PatientID in \"Replace\"");
        foreach (var tag in o.Remove)
            if (Identifiers.Contains(tag) || tag == DicomTags.SOPClassUID)
                throw new ArgumentException($"{DicomDictionary.Find(tag)?.Keyword} cannot be removed");
    }

    /// <summary>UIDs that get new values at this level unless kept.</summary>
    private DicomTag[] RegeneratedUids() => _options.Level switch
    {
        ModificationLevel.Study => Identifiers,
        ModificationLevel.Series => Identifiers[1..],
        ModificationLevel.Instance => Identifiers[2..],
        _ => [],
    };

    public DicomFile Modify(DicomFile source)
    {
        var ds = source.Dataset.Clone();
        if (_options.RemovePrivateTags)
            ds.RemoveAll(i => i.Tag.IsPrivate);
        foreach (var tag in _options.Remove)
            ds.Remove(tag);
        foreach (var tag in RegeneratedUids())
            if (!_options.Keep.Contains(tag) && !_options.Replace.ContainsKey(tag) && ds.GetString(tag) is { Length: > 0 } uid)
                ds.Add(tag, DicomVR.UI, Uids[uid]);
        foreach (var (tag, value) in _options.Replace)
            ds.Add(tag, value);
        var file = new DicomFile(ds, source.TransferSyntax);
        file.UpdateFileMetaInfo();
        return file;
    }
}
