using System.Text;
using System.Text.Json;
using System.Xml;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.Json;

/// <summary>
/// The Native DICOM Model of PS3.19 A.1 (application/dicom+xml), written from a data set in the DICOM JSON model
/// (PS3.18 F): the two carry the same attributes, so one is made from the other rather than from a second walk.
/// </summary>
public static class DicomXmlModel
{
    /// <summary>The components of a PN group, in their order in the value (PS3.5 6.2.1) and named as PS3.19 Table A.1.5-2.</summary>
    private static readonly string[] NameComponents = ["FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix"];

    public static byte[] FromJson(JsonElement dataset)
    {
        using var ms = new MemoryStream();
        using (var w = XmlWriter.Create(ms, new XmlWriterSettings { Encoding = new UTF8Encoding(false) }))
        {
            w.WriteStartDocument();
            w.WriteStartElement("NativeDicomModel", "http://dicom.nema.org/PS3.19/models/NativeDICOM");
            WriteAttributes(w, dataset);
            w.WriteEndElement();
        }
        return ms.ToArray();
    }

    private static void WriteAttributes(XmlWriter w, JsonElement dataset)
    {
        foreach (var attribute in dataset.EnumerateObject())
        {
            if (!DicomTag.TryParse(attribute.Name, out var tag)) continue;
            var vr = attribute.Value.TryGetProperty("vr", out var v) ? v.GetString() ?? "UN" : "UN";
            w.WriteStartElement("DicomAttribute");
            w.WriteAttributeString("tag", attribute.Name);
            w.WriteAttributeString("vr", vr);
            if (DicomDictionary.Find(tag)?.Keyword is { Length: > 0 } keyword) w.WriteAttributeString("keyword", keyword);
            if (attribute.Value.TryGetProperty("BulkDataURI", out var uri))
            {
                w.WriteStartElement("BulkData");
                w.WriteAttributeString("uri", uri.GetString());
                w.WriteEndElement();
            }
            else if (attribute.Value.TryGetProperty("InlineBinary", out var inline))
                w.WriteElementString("InlineBinary", inline.GetString());
            else if (attribute.Value.TryGetProperty("Value", out var values))
            {
                var number = 0;
                foreach (var value in values.EnumerateArray())
                {
                    number++;
                    if (vr == "SQ") WriteNumbered(w, "Item", number, () => WriteAttributes(w, value));
                    else if (vr == "PN") WriteNumbered(w, "PersonName", number, () => WritePersonName(w, value));
                    else if (value.ValueKind != JsonValueKind.Null)
                        WriteNumbered(w, "Value", number, () => w.WriteString(XmlText(value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : value.GetRawText())));
                }
            }
            w.WriteEndElement();
        }
    }

    /// <summary>
    /// Text as XML 1.0 can carry it: a control character it forbids (a form feed is legal in ST, LT and UT values) becomes
    /// U+FFFD, rather than failing the whole document.
    /// </summary>
    private static string XmlText(string text)
    {
        if (text.All(XmlConvert.IsXmlChar)) return text;
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { sb.Append(text, i++, 2); continue; }
            sb.Append(XmlConvert.IsXmlChar(text[i]) ? text[i] : '\uFFFD');
        }
        return sb.ToString();
    }

    private static void WriteNumbered(XmlWriter w, string element, int number, Action content)
    {
        w.WriteStartElement(element);
        w.WriteAttributeString("number", number.ToString(System.Globalization.CultureInfo.InvariantCulture));
        content();
        w.WriteEndElement();
    }

    private static void WritePersonName(XmlWriter w, JsonElement name)
    {
        if (name.ValueKind != JsonValueKind.Object) return;
        foreach (var group in new[] { "Alphabetic", "Ideographic", "Phonetic" })
        {
            if (!name.TryGetProperty(group, out var text) || text.GetString() is not { Length: > 0 } value) continue;
            w.WriteStartElement(group);
            var components = value.Split('^');
            for (var i = 0; i < components.Length && i < NameComponents.Length; i++)
                if (components[i].Length > 0) w.WriteElementString(NameComponents[i], XmlText(components[i]));
            w.WriteEndElement();
        }
    }
}
