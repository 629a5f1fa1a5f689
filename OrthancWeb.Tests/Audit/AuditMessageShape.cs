using System.Xml.Linq;

namespace OrthancWeb.Tests.Audit;

/// <summary>
/// What PS3.15 A.5.1's schema of DICOM audit messages requires, checked element by element: the order of the
/// AuditMessage's children, the required attributes, and coded values in csd-code/codeSystemName/originalText form.
/// </summary>
public static class AuditMessageShape
{
    private static readonly string[] Order = ["EventIdentification", "ActiveParticipant", "AuditSourceIdentification", "ParticipantObjectIdentification"];

    public static (string Code, string System, string Meaning) Code(XElement coded) =>
        (coded.Attribute("csd-code")?.Value ?? "", coded.Attribute("codeSystemName")?.Value ?? "", coded.Attribute("originalText")?.Value ?? "");

    public static void AssertValid(XElement message)
    {
        Assert.Equal("AuditMessage", message.Name.LocalName);
        Assert.Equal(XNamespace.None, message.Name.Namespace);
        // Children in the schema's sequence order; EventIdentification once, at least one ActiveParticipant and AuditSourceIdentification.
        var ranks = message.Elements().Select(e => Array.IndexOf(Order, e.Name.LocalName)).ToList();
        Assert.DoesNotContain(-1, ranks);
        Assert.Equal(ranks.Order().ToList(), ranks);
        Assert.Single(message.Elements("EventIdentification"));
        Assert.NotEmpty(message.Elements("ActiveParticipant"));
        Assert.NotEmpty(message.Elements("AuditSourceIdentification"));

        var ev = message.Element("EventIdentification")!;
        Assert.Contains(ev.Attribute("EventActionCode")!.Value, new[] { "C", "R", "U", "D", "E" });
        Assert.True(DateTimeOffset.TryParse(ev.Attribute("EventDateTime")!.Value, out _));
        Assert.Contains(ev.Attribute("EventOutcomeIndicator")!.Value, new[] { "0", "4", "8", "12" });
        var eventId = Code(ev.Element("EventID")!);
        Assert.Equal("DCM", eventId.System);
        Assert.Matches("^1101(0[0-9]|1[0-4])$", eventId.Code); // PS3.16 CID 400: 110100..110114

        foreach (var p in message.Elements("ActiveParticipant"))
        {
            Assert.False(string.IsNullOrEmpty(p.Attribute("UserID")?.Value));
            Assert.Contains(p.Attribute("UserIsRequestor")!.Value, new[] { "true", "false" });
            if (p.Attribute("NetworkAccessPointID") is not null)
                Assert.Contains(p.Attribute("NetworkAccessPointTypeCode")!.Value, new[] { "1", "2" });
            foreach (var role in p.Elements("RoleIDCode")) Assert.Matches("^11015[0-5]$", Code(role).Code);
        }
        var source = message.Element("AuditSourceIdentification")!;
        Assert.False(string.IsNullOrEmpty(source.Attribute("AuditSourceID")?.Value));
        foreach (var o in message.Elements("ParticipantObjectIdentification"))
        {
            Assert.False(string.IsNullOrEmpty(o.Attribute("ParticipantObjectID")?.Value));
            Assert.NotNull(o.Element("ParticipantObjectIDTypeCode"));
            Assert.False(string.IsNullOrEmpty(Code(o.Element("ParticipantObjectIDTypeCode")!).Code));
        }
    }
}
