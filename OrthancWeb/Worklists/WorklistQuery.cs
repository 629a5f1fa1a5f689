using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;

namespace OrthancWeb.Worklists;

/// <summary>
/// A Modality Worklist C-FIND identifier (PS3.4 K.6.1.2) and what it matches. Matching keys with a value are matched
/// per C.2.2.2: single values (person names case-insensitively, as our Q/R C-FIND), wildcards '*' and '?', UID lists,
/// date and time ranges (a Scheduled Procedure Step's start date and time combined, C.2.2.2.5) and sequence matching
/// (C.2.2.2.6) inside the Scheduled Procedure Step Sequence: an item matches when one of its steps matches every key of
/// the query's step. Empty keys match anything and are returned (universal matching, C.2.2.2.3). Other keys are
/// return keys only (K.6.1.2.2 lets an SCP match on optional keys or not; we match on the common set).
/// </summary>
public sealed class WorklistQuery
{
    /// <summary>The attributes matched when given a value (Table K.6-1's required keys and the usual optional ones).</summary>
    private static readonly HashSet<DicomTag> MatchingKeys =
    [
        DicomTags.PatientName, DicomTags.PatientID, DicomTags.IssuerOfPatientID, DicomTags.PatientBirthDate, DicomTags.PatientSex,
        DicomTags.AccessionNumber, DicomTags.RequestedProcedureID, DicomTags.StudyInstanceUID, DicomTags.ReferringPhysicianName,
        DicomTags.AdmissionID, DicomTags.RequestedProcedurePriority,
        DicomTags.ScheduledStationAETitle, DicomTags.ScheduledProcedureStepStartDate, DicomTags.ScheduledProcedureStepStartTime,
        DicomTags.Modality, DicomTags.ScheduledPerformingPhysicianName, DicomTags.ScheduledProcedureStepID,
        DicomTags.ScheduledStationName, DicomTags.ScheduledProcedureStepLocation, DicomTags.ScheduledProcedureStepStatus,
    ];

    private readonly DicomDataset _identifier;
    private readonly DicomDataset? _step;

    public WorklistQuery(DicomDataset identifier)
    {
        _identifier = identifier;
        _step = identifier.GetSequence(DicomTags.ScheduledProcedureStepSequence)?.Items.FirstOrDefault();
    }

    /// <summary>The keys of the query the item matches, and a step of it that matches the query's step.</summary>
    public bool Matches(DicomDataset item) => MatchesKeys(_identifier, item) && MatchingSteps(item).Any();

    private IEnumerable<DicomDataset> MatchingSteps(DicomDataset item)
    {
        var steps = item.GetSequence(DicomTags.ScheduledProcedureStepSequence)?.Items ?? [];
        if (_step is null || !_step.Any(HasValue)) return steps;
        return steps.Where(s => MatchesKeys(_step, s));
    }

    private static bool HasValue(DicomItem i) => i is DicomElement && MatchingKeys.Contains(i.Tag) && i is DicomElement { Length: > 0 };

    private static bool MatchesKeys(DicomDataset query, DicomDataset target)
    {
        var date = query.GetString(DicomTags.ScheduledProcedureStepStartDate)?.Trim() ?? "";
        var time = query.GetString(DicomTags.ScheduledProcedureStepStartTime)?.Trim() ?? "";
        foreach (var key in query)
        {
            if (key is not DicomElement || !MatchingKeys.Contains(key.Tag)) continue;
            var wanted = query.GetString(key.Tag)?.Trim() ?? "";
            if (wanted.Length == 0) continue; // universal matching
            if (key.Tag == DicomTags.ScheduledProcedureStepStartTime && date.Length > 0) continue; // with the date, below
            var value = target.GetString(key.Tag)?.Trim();
            if (key.Tag == DicomTags.ScheduledProcedureStepStartDate)
            {
                if (!MatchesDateTime(date, time, value ?? "", target.GetString(DicomTags.ScheduledProcedureStepStartTime)?.Trim() ?? "")) return false;
                continue;
            }
            if (string.IsNullOrEmpty(value)) return false; // a key asked with a value the item does not have
            if (!value.Split('\\').Any(v => MatchesValue(key.VR, wanted, v.Trim()))) return false;
        }
        return true;
    }

    private static bool MatchesValue(DicomVR vr, string wanted, string value)
    {
        switch (vr.Code)
        {
            case "UI": return wanted.Split('\\').Any(w => w.Trim() == value); // list of UIDs (C.2.2.2.2)
            case "DA": return InRange(wanted, value, 8);
            case "TM": return InRange(wanted, value, 6);
            case "PN":
                // Person names ignore case, and trailing empty components ("DOE^JOHN^^" is "DOE^JOHN").
                var name = value.TrimEnd('^', '=', ' ');
                var pattern = wanted.TrimEnd('^', '=', ' ');
                return WildcardPattern.IsMatch(name, pattern.Length == 0 ? "*" : pattern, ignoreCase: true);
            default:
                return WildcardPattern.HasWildcards(wanted) ? WildcardPattern.IsMatch(value, wanted, ignoreCase: false) : wanted == value;
        }
    }

    /// <summary>"a-b", "a-", "-b" or a single value (C.2.2.2.5), values padded to <paramref name="width"/> digits.</summary>
    private static bool InRange(string wanted, string value, int width)
    {
        var (low, high) = Bounds(wanted, width);
        var v = Pad(value, width, '0');
        return string.CompareOrdinal(v, low) >= 0 && string.CompareOrdinal(v, high) <= 0;
    }

    private static (string Low, string High) Bounds(string wanted, int width)
    {
        var dash = wanted.IndexOf('-', StringComparison.Ordinal);
        var (a, b) = dash < 0 ? (wanted, wanted) : (wanted[..dash].Trim(), wanted[(dash + 1)..].Trim());
        return (a.Length == 0 ? new string('0', width) : Pad(a, width, '0'), b.Length == 0 ? new string('9', width) : Pad(b, width, '9'));
    }

    /// <summary>The digits of a date or time (no separators, no fraction), cut or padded to the width.</summary>
    private static string Pad(string v, int width, char fill)
    {
        var digits = new string(v.Split('.')[0].Where(char.IsAsciiDigit).ToArray());
        return digits.Length >= width ? digits[..width] : digits + new string(fill, width - digits.Length);
    }

    /// <summary>
    /// The start date, and the start time with it: a date range and a time range together are one range from the first
    /// date and time to the last (C.2.2.2.5.2, combined date and time range matching).
    /// </summary>
    private static bool MatchesDateTime(string date, string time, string itemDate, string itemTime)
    {
        if (itemDate.Length == 0) return false;
        if (time.Length == 0) return InRange(date, itemDate, 8);
        var (dLow, dHigh) = Bounds(date, 8);
        var (tLow, tHigh) = Bounds(time, 6);
        var v = Pad(itemDate, 8, '0') + Pad(itemTime, 6, '0');
        return string.CompareOrdinal(v, dLow + tLow) >= 0 && string.CompareOrdinal(v, dHigh + tHigh) <= 0;
    }

    /// <summary>
    /// The item as answered: the keys the query holds, with the item's values (empty when it has none, PS3.4
    /// C.4.1.1.3.2), its steps reduced to the matching ones and the step keys asked for.
    /// </summary>
    public DicomDataset Answer(DicomDataset item)
    {
        var answer = new DicomDataset();
        if (item.GetString(DicomTags.SpecificCharacterSet) is { Length: > 0 } charset)
            answer.Add(DicomTags.SpecificCharacterSet, DicomVR.CS, charset.Split('\\'));
        Copy(_identifier, item, answer, MatchingSteps(item).ToList());
        return answer;
    }

    private static void Copy(DicomDataset query, DicomDataset source, DicomDataset answer, IReadOnlyList<DicomDataset>? steps)
    {
        foreach (var key in query)
        {
            if (key.Tag == DicomTags.SpecificCharacterSet || key.Tag.IsGroupLength) continue;
            if (key is DicomSequence wanted)
            {
                var items = key.Tag == DicomTags.ScheduledProcedureStepSequence && steps is not null
                    ? steps
                    : source.GetSequence(key.Tag)?.Items ?? [];
                var template = wanted.Items.FirstOrDefault();
                answer.AddSequence(key.Tag, items.Select(i =>
                {
                    if (template is null || template.Count == 0) return i.Clone();
                    var reduced = new DicomDataset();
                    Copy(template, i, reduced, null);
                    return reduced;
                }).ToArray());
                continue;
            }
            if (source[key.Tag] is DicomElement e) answer.AddOrUpdate(new DicomElement(e.Tag, e.VR, e.Buffer));
            else answer.AddBytes(key.Tag, key.VR, ReadOnlyMemory<byte>.Empty);
        }
    }
}
