namespace OrthancWeb.Dicom.Data;

/// <summary>
/// A PN value (PS3.5 §6.2.1): up to three component groups (alphabetic, ideographic, phonetic) separated by '=',
/// each with five components separated by '^': family, given, middle, prefix, suffix.
/// </summary>
public sealed class DicomPersonName
{
    public DicomPersonName(string value)
    {
        Value = value;
        var groups = value.Split('=');
        Alphabetic = Group(groups, 0);
        Ideographic = Group(groups, 1);
        Phonetic = Group(groups, 2);
    }

    public string Value { get; }
    public Components Alphabetic { get; }
    public Components Ideographic { get; }
    public Components Phonetic { get; }

    public string FamilyName => Alphabetic.FamilyName;
    public string GivenName => Alphabetic.GivenName;
    public string MiddleName => Alphabetic.MiddleName;
    public string NamePrefix => Alphabetic.NamePrefix;
    public string NameSuffix => Alphabetic.NameSuffix;

    public override string ToString() => Value;

    private static Components Group(string[] groups, int index)
    {
        var g = index < groups.Length ? groups[index] : "";
        var c = g.Split('^');
        string At(int i) => i < c.Length ? c[i].Trim() : "";
        return new Components(g, At(0), At(1), At(2), At(3), At(4));
    }

    public sealed record Components(string Value, string FamilyName, string GivenName, string MiddleName, string NamePrefix, string NameSuffix);
}
