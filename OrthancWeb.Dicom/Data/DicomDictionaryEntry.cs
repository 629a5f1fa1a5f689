namespace OrthancWeb.Dicom.Data;

/// <summary>One row of PS3.6 Table 6-1 (or PS3.7 Table E.1-1 for the command group).</summary>
public sealed class DicomDictionaryEntry
{
    internal DicomDictionaryEntry(uint tag, uint mask, string vr, string vm, string name, string keyword, bool retired)
    {
        Tag = new DicomTag(tag);
        Mask = mask;
        VRs = vr switch
        {
            "NONE" or "" => [],
            _ => vr.Split(" or ").Select(DicomVR.Parse).ToArray(),
        };
        VM = vm;
        Name = name;
        Keyword = keyword;
        IsRetired = retired;
    }

    public DicomTag Tag { get; }

    /// <summary>0xFFFFFFFF for ordinary tags; zero nibbles mark "xx" of repeating groups such as (60xx,3000).</summary>
    public uint Mask { get; }

    /// <summary>The allowed VRs; several for e.g. "US or SS" (the data set decides), none for delimiters.</summary>
    public IReadOnlyList<DicomVR> VRs { get; }

    /// <summary>The first allowed VR, or UN for delimiters.</summary>
    public DicomVR DefaultVR => VRs.Count > 0 ? VRs[0] : DicomVR.UN;

    public string VM { get; }
    public string Name { get; }
    public string Keyword { get; }
    public bool IsRetired { get; }

    /// <summary>Private creator for private dictionary rows; null for public ones.</summary>
    public string? PrivateCreator { get; internal init; }

    public override string ToString() => $"{Tag} {Keyword} {string.Join('/', VRs)} {VM}";
}

/// <summary>An entry a site declares for its own tags (Orthanc's "Dictionary": VR, name, VM, private creator).</summary>
public sealed record DicomUserEntry(DicomTag Tag, DicomVR VR, string Keyword, string VM = "1", string? PrivateCreator = null);
