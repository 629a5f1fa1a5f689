using System.Globalization;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.Anonymization;

/// <summary>The action codes of PS3.15 Table E.1-1 (§E.3.1): what becomes of an attribute.</summary>
public enum ProfileAction
{
    /// <summary>K: keep (the value stays; sequences are still cleaned inside).</summary>
    Keep,
    /// <summary>X: remove.</summary>
    Remove,
    /// <summary>Z: replace with a zero-length value.</summary>
    ZeroLength,
    /// <summary>D: replace with a non-zero-length dummy value consistent with the VR.</summary>
    Dummy,
    /// <summary>U: replace with a new UID, the same one for every occurrence within the operation.</summary>
    ReplaceUid,
}

/// <summary>One row of the table: which tags it covers and the action, with the options that keep the attribute.</summary>
internal sealed record ProfileRule(uint Value, uint Mask, string Action, bool RetainedByDeviceIdentity, bool RetainedByPatientCharacteristics, bool RetainedByFullDates)
{
    public bool Matches(DicomTag tag) => (tag.Value & Mask) == Value;

    /// <summary>Wildcard rows ("50xx,xxxx") come after exact ones when looking a tag up.</summary>
    public bool IsExact => Mask == 0xFFFFFFFF;

    public static ProfileRule Parse(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var hex = parts[0].Replace(",", "");
        uint value = 0, mask = 0;
        foreach (var c in hex)
        {
            value <<= 4; mask <<= 4;
            if (c is 'x' or 'X') continue;
            value |= uint.Parse(c.ToString(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            mask |= 0xF;
        }
        var options = parts.Length > 2 ? parts[2] : "";
        return new ProfileRule(value, mask, parts[1], options.Contains('d'), options.Contains('p'), options.Contains('t'));
    }
}
