using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Modification;

/// <summary>
/// The attributes a study's instances share with the study and its patient, as Orthanc's merge and split name them:
/// the Patient Module and the General Study Module of PS3.3 (2011 edition, Tables C.7-1 and C.7-3), which the Orthanc
/// Book cites for "Replace" and "Remove" of /studies/{id}/split. A merge gives moved instances these attributes of the
/// target study; a split lets only these be changed in the new study.
/// </summary>
public static class StudyModules
{
    /// <summary>The two modules' attributes, as /{level}/{id}/module lists them at patient and study level.</summary>
    public static readonly IReadOnlySet<DicomTag> All = Index.LevelModules.Patient.Concat(Index.LevelModules.Study).ToHashSet();

    /// <summary>
    /// What a split may change: the modules but the Study Instance UID, which the split itself gives the new study.
    /// Anything else is refused with Orthanc's reason (HTTP 400, ParameterOutOfRange).
    /// </summary>
    public static void DemandSplittable(DicomTag tag)
    {
        if (tag != DicomTags.StudyInstanceUID && All.Contains(tag)) return;
        var name = DicomDictionary.Find(tag)?.Keyword ?? "Unknown";
        throw new Requests.ParameterOutOfRangeException(
            $"Cannot modify the following tag while splitting a study (not in the patient/study modules): {name} ({tag.ToOrthancKey()})");
    }

    /// <summary>
    /// The changes that make an instance share the target study's modules (PS3.3 C.7.1.1, C.7.2.1): each attribute of
    /// the modules the target has as a value is copied, every other one (and every sequence, which Orthanc does not
    /// copy either) is removed, so that nothing of the former patient or study stays behind.
    /// </summary>
    public static (Dictionary<DicomTag, string> Replace, HashSet<DicomTag> Remove) CopiedFrom(DicomDataset target)
    {
        var replace = new Dictionary<DicomTag, string>();
        var remove = new HashSet<DicomTag>();
        foreach (var tag in All)
        {
            if (target[tag] is DicomElement) replace[tag] = target.GetString(tag) ?? "";
            else remove.Add(tag);
        }
        return (replace, remove);
    }
}
