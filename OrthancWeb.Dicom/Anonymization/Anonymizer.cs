using System.Text;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Anonymization;

/// <summary>
/// De-identifies data sets with the Basic Application Level Confidentiality Profile (PS3.15 Annex E). One instance
/// serves one operation: every data set it anonymizes gets the same new patient and consistently replaced UIDs, so
/// the anonymized patient/study/series hierarchy stays whole.
/// </summary>
public sealed class Anonymizer
{
    private static readonly Dictionary<uint, ProfileRule> ExactRules;
    private static readonly ProfileRule[] WildcardRules;

    static Anonymizer()
    {
        var rules = BasicProfileTable.Rows.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(ProfileRule.Parse).ToList();
        ExactRules = rules.Where(r => r.IsExact).ToDictionary(r => r.Value);
        WildcardRules = rules.Where(r => !r.IsExact).ToArray();
    }

    private readonly AnonymizationOptions _options;

    public Anonymizer(AnonymizationOptions options, UidMap? uids = null)
    {
        _options = options;
        Uids = uids ?? new UidMap();
        var token = Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        PatientId = options.PatientId ?? Guid.NewGuid().ToString();
        PatientName = options.PatientName ?? "Anonymized" + token;
    }

    public UidMap Uids { get; }

    public string PatientId { get; }

    public string PatientName { get; }

    /// <summary>Codes of CID 7050 naming the profile and each option applied (PS3.16).</summary>
    private IEnumerable<(string Code, string Meaning)> MethodCodes()
    {
        yield return ("113100", "Basic Application Confidentiality Profile");
        if (_options.RetainLongFullDates) yield return ("113106", "Retain Longitudinal Temporal Information Full Dates Option");
        if (_options.RetainPatientCharacteristics) yield return ("113108", "Retain Patient Characteristics Option");
        if (_options.RetainDeviceIdentity) yield return ("113109", "Retain Device Identity Option");
        if (_options.KeepPrivateTags) yield return ("113111", "Retain Safe Private Option");
    }

    /// <summary>The action the profile (with the chosen options) takes on a tag, or null when the table does not list it.</summary>
    public ProfileAction? ActionFor(DicomTag tag, bool hasValue)
    {
        if (!ExactRules.TryGetValue(tag.Value, out var rule))
            rule = Array.Find(WildcardRules, r => r.Matches(tag));
        if (rule is null) return null;
        if ((rule.RetainedByDeviceIdentity && _options.RetainDeviceIdentity) ||
            (rule.RetainedByPatientCharacteristics && _options.RetainPatientCharacteristics) ||
            (rule.RetainedByFullDates && _options.RetainLongFullDates))
            return ProfileAction.Keep;
        return Resolve(rule.Action, hasValue);
    }

    /// <summary>
    /// A choice such as X/Z/D depends on the IOD's type for the attribute (§E.3.1). Without the IOD at hand the
    /// choice that is valid for every type is taken: D when there is a value to stand in for (a type 1 attribute
    /// stays valid), else Z (type 2 stays present). X/Z/U* keeps the sequence and replaces the UIDs inside it.
    /// </summary>
    private static ProfileAction Resolve(string action, bool hasValue) => action switch
    {
        "K" => ProfileAction.Keep,
        "X" => ProfileAction.Remove,
        "Z" => ProfileAction.ZeroLength,
        "D" or "C" => ProfileAction.Dummy,
        "U" => ProfileAction.ReplaceUid,
        "X/Z/U*" => ProfileAction.Keep,
        _ when action.Contains('D') => hasValue ? ProfileAction.Dummy : ProfileAction.ZeroLength,
        _ when action.Contains('Z') => ProfileAction.ZeroLength,
        _ => ProfileAction.Remove,
    };

    /// <summary>Acquisition Context Sequence: type 2 in the waveform IODs (PS3.3 C.7.6.14), so emptied, not removed.</summary>
    private static readonly HashSet<uint> TypeTwoSequences = [0x00400555];

    /// <summary>X/Z exactly: X/Z/D rows (Referenced Performed Procedure Step Sequence) are type 2 in some IODs (SR).</summary>
    private static bool MayRemove(DicomTag tag) =>
        (ExactRules.TryGetValue(tag.Value, out var rule) ? rule : Array.Find(WildcardRules, r => r.Matches(tag)))?.Action == "X/Z";

    /// <summary>A de-identified copy of the file; the source is not changed.</summary>
    public DicomFile Anonymize(DicomFile source)
    {
        var ds = source.Dataset.Clone();
        // Keyed maps give each original patient its own stable pseudonym, across operations.
        var original = source.Dataset.GetStringOrEmpty(DicomTags.PatientID);
        var pseudonym = _options.PatientId is null ? Uids.Pseudonym("PatientID", original) : null;
        Clean(ds);
        ds.Add(DicomTags.PatientID, DicomVR.LO, pseudonym ?? PatientId);
        ds.Add(DicomTags.PatientName, DicomVR.PN, _options.PatientName is null && pseudonym is not null ? "Anonymized" + pseudonym[..8] : PatientName);
        foreach (var (tag, value) in _options.Replace)
            ds.Add(tag, value);
        ds.Add(DicomTags.PatientIdentityRemoved, DicomVR.CS, "YES");
        ds.Add(DicomTags.DeidentificationMethod, DicomVR.LO, "OrthancWeb PS3.15 E.1 Basic Profile");
        ds.AddSequence(DicomTags.DeidentificationMethodCodeSequence, MethodCodes().Select(c =>
        {
            var item = new DicomDataset();
            item.Add(DicomTags.CodeValue, DicomVR.SH, c.Code);
            item.Add(DicomTags.CodingSchemeDesignator, DicomVR.SH, "DCM");
            item.Add(DicomTags.CodeMeaning, DicomVR.LO, c.Meaning);
            return item;
        }).ToArray());
        // §E.3.6: say whether dates still are the real ones.
        ds.Add(DicomTags.LongitudinalTemporalInformationModified, DicomVR.CS, _options.RetainLongFullDates ? "UNMODIFIED" : "REMOVED");
        var file = new DicomFile(ds, source.TransferSyntax) { Preamble = null };
        file.UpdateFileMetaInfo();
        return file;
    }

    private void Clean(DicomDataset ds)
    {
        foreach (var item in ds.ToList())
        {
            var tag = item.Tag;
            if (tag.IsGroupLength && tag.Group != 0x0002) { ds.Remove(tag); continue; }
            if (_options.Keep.Contains(tag)) continue;
            if (_options.Remove.Contains(tag)) { ds.Remove(tag); continue; }
            if (tag.IsPrivate)
            {
                if (!_options.KeepPrivateTags) ds.Remove(tag);
                else if (item is DicomSequence ps) foreach (var child in ps.Items) Clean(child);
                continue;
            }
            var hasValue = item switch
            {
                DicomElement e => e.Length > 0,
                DicomSequence s => s.Items.Count > 0,
                _ => true,
            };
            switch (ActionFor(tag, hasValue) ?? ProfileAction.Keep)
            {
                case ProfileAction.Remove:
                    ds.Remove(tag);
                    break;
                case ProfileAction.ZeroLength:
                    // A sequence the profile lets go (X/Z) goes: it is type 3 in the IODs that hold it (Referenced
                    // Study Sequence in the General Study module), where a present sequence without items is an
                    // error. Only a sequence some IOD makes type 2 is kept empty.
                    if (item is DicomSequence && MayRemove(tag) && !TypeTwoSequences.Contains(tag.Value)) ds.Remove(tag);
                    else if (item is DicomSequence) ds.AddOrUpdate(new DicomSequence(tag));
                    else ds.AddOrUpdate(new DicomElement(tag, item.VR, DicomBuffer.Empty));
                    break;
                case ProfileAction.Dummy:
                    if (item is DicomSequence ds2) foreach (var child in ds2.Items) Clean(child);
                    else ds.AddOrUpdate(new DicomElement(tag, item.VR, DicomBuffer.From(DummyValue(item))));
                    break;
                case ProfileAction.ReplaceUid:
                    if (item is DicomElement ue && ue.VR == DicomVR.UI && ue.Length > 0)
                    {
                        var uids = ds.GetStrings(tag).Select(u => Uids[u]).ToArray();
                        ds.Add(tag, DicomVR.UI, uids);
                    }
                    break;
                default:
                    if (item is DicomSequence ks) foreach (var child in ks.Items) Clean(child);
                    break;
            }
        }
    }

    /// <summary>A dummy value of the element's VR (§E.3.1 "D"), of the same length for binary data.</summary>
    private static byte[] DummyValue(DicomItem item)
    {
        var vr = item.VR;
        var text = vr.Kind switch
        {
            VRKind.Date => "19000101",
            VRKind.Time => "000000",
            VRKind.DateTime => "19000101000000",
            VRKind.DecimalString or VRKind.IntegerString => "0",
            VRKind.Uid => UidMap.NewUid(),
            VRKind.PersonName => "ANONYMIZED",
            VRKind.Text when vr == DicomVR.AS => "000Y",
            VRKind.Text => "ANONYMIZED",
            _ => null,
        };
        if (text is null)
        {
            var length = item is DicomElement e ? (int)Math.Min(e.Length, 1 << 20) : 0;
            return new byte[Math.Max(length, vr.UnitSize) + (Math.Max(length, vr.UnitSize) & 1)];
        }
        var bytes = Encoding.ASCII.GetBytes(text);
        if ((bytes.Length & 1) == 1) bytes = [.. bytes, vr.Padding];
        return bytes;
    }
}
