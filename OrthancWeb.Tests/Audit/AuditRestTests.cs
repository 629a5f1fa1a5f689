using System.Net;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Audit;

/// <summary>The trail through the real server over HTTP: what a script's reads leave behind, the filters, the Administer policy, A.5 export, verify.</summary>
public sealed class AuditRestTests(RestServerFixture fixture) : IClassFixture<RestServerFixture>
{
    private HttpClient Admin => fixture.Client;

    [Fact]
    public async Task A_REST_download_is_recorded_with_user_address_and_patient()
    {
        var id = (await UploadAsync(Admin, Sample("CT_small.dcm")))["ID"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await Admin.GetAsync($"/instances/{id}/file")).StatusCode);
        await Admin.GetAsync($"/instances/{id}/tags");
        Assert.Equal(HttpStatusCode.OK, (await Admin.GetAsync($"/instances/{id}/rendered")).StatusCode);

        var downloads = await EntriesAsync($"/audit?action=Download&patient=1CT1&user=admin");
        var download = downloads.First(e => e["ResourceID"]!.GetValue<string>() == id);
        Assert.Equal("admin", download["User"]!.GetValue<string>());
        Assert.Equal("127.0.0.1", download["Address"]!.GetValue<string>());
        Assert.Equal("REST", download["Source"]!.GetValue<string>());
        Assert.Equal("1CT1", download["PatientID"]!.GetValue<string>());
        Assert.Equal("1.3.6.1.4.1.5962.1.2.1.20040119072730.12322", download["StudyInstanceUID"]!.GetValue<string>());
        Assert.Equal("Success", download["Outcome"]!.GetValue<string>());
        var views = await EntriesAsync($"/audit?action=View&patient=1CT1");
        Assert.Contains(views, e => e["ResourceID"]!.GetValue<string>() == id && e["Details"]!.GetValue<string>() == "tags");
        Assert.Contains(views, e => e["ResourceID"]!.GetValue<string>() == id && e["Details"]!.GetValue<string>() == $"/instances/{id}/rendered");
        var uploads = await EntriesAsync("/audit?action=Upload&user=admin");
        Assert.Contains(uploads, e => e["ResourceID"]?.GetValue<string>() == id);
    }

    [Fact]
    public async Task Filters_and_paging_apply_in_the_database()
    {
        var id = (await UploadAsync(Admin, Sample("MR_small.dcm")))["ID"]!.GetValue<string>();
        for (var i = 0; i < 3; i++) await Admin.GetAsync($"/instances/{id}/simplified-tags");
        var all = await EntriesAsync("/audit?action=View&patient=4MR1&limit=1000");
        Assert.True(all.Count >= 3);
        Assert.All(all, e => Assert.Equal(("View", "4MR1"), (e["Action"]!.GetValue<string>(), e["PatientID"]!.GetValue<string>())));
        var page = await Admin.GetAsync("/audit?action=View&patient=4MR1&limit=2&offset=1");
        Assert.Equal(all.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), page.Headers.GetValues("X-Total-Count").Single());
        var second = JsonNode.Parse(await page.Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(2, second.Count);
        Assert.Equal(all[1]["ID"]!.GetValue<long>(), second[0]!["ID"]!.GetValue<long>()); // newest first, offset 1
        var future = await EntriesAsync($"/audit?since={DateTime.UtcNow.AddDays(1):yyyy-MM-dd}");
        Assert.Empty(future);
        Assert.Equal(HttpStatusCode.BadRequest, (await Admin.GetAsync("/audit?since=yesterday")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Admin.GetAsync("/audit?outcome=Fine")).StatusCode);
    }

    [Fact]
    public async Task Only_administrators_read_the_trail()
    {
        using var anonymous = new HttpClient { BaseAddress = Admin.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/audit")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/audit/verify")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Admin.GetAsync("/audit/verify")).StatusCode);
    }

    [Fact]
    public async Task The_chain_verifies_over_REST()
    {
        await UploadAsync(Admin, Sample("CT_small.dcm"));
        var result = await GetJsonAsync(Admin, "/audit/verify");
        Assert.True(result["Intact"]!.GetValue<bool>(), result.ToJsonString());
        Assert.True(result["Checked"]!.GetValue<long>() > 0);
    }

    [Fact]
    public async Task An_entry_exports_as_a_PS3_15_A5_audit_message()
    {
        var id = (await UploadAsync(Admin, Sample("CT_small.dcm")))["ID"]!.GetValue<string>();
        await Admin.GetAsync($"/instances/{id}/file");
        var download = (await EntriesAsync("/audit?action=Download&patient=1CT1"))[0];
        var xml = await Admin.GetStringAsync($"/audit/{download["ID"]}/dicom");
        var message = XDocument.Parse(xml).Root!;
        AuditMessageShape.AssertValid(message);
        // Download: DCM 110106 Export, read; the requestor is the destination, this server the source.
        var eventId = message.Element("EventIdentification")!;
        Assert.Equal("R", eventId.Attribute("EventActionCode")!.Value);
        Assert.Equal("0", eventId.Attribute("EventOutcomeIndicator")!.Value);
        Assert.Equal(("110106", "DCM", "Export"), AuditMessageShape.Code(eventId.Element("EventID")!));
        var requestor = message.Elements("ActiveParticipant").Single(p => p.Attribute("UserIsRequestor")!.Value == "true");
        Assert.Equal("admin", requestor.Attribute("UserID")!.Value);
        Assert.Equal("127.0.0.1", requestor.Attribute("NetworkAccessPointID")!.Value);
        Assert.Equal("2", requestor.Attribute("NetworkAccessPointTypeCode")!.Value);
        Assert.Equal(("110152", "DCM", "Destination Role ID"), AuditMessageShape.Code(requestor.Element("RoleIDCode")!));
        var objects = message.Elements("ParticipantObjectIdentification").ToList();
        var patient = objects.Single(o => o.Attribute("ParticipantObjectTypeCode")!.Value == "1");
        Assert.Equal(("1CT1", "1"), (patient.Attribute("ParticipantObjectID")!.Value, patient.Attribute("ParticipantObjectTypeCodeRole")!.Value));
        Assert.Equal(("2", "RFC-3881", "Patient Number"), AuditMessageShape.Code(patient.Element("ParticipantObjectIDTypeCode")!));
        var study = objects.Single(o => o.Attribute("ParticipantObjectTypeCode")!.Value == "2");
        Assert.Equal("3", study.Attribute("ParticipantObjectTypeCodeRole")!.Value);
        Assert.Equal(("110180", "DCM", "Study Instance UID"), AuditMessageShape.Code(study.Element("ParticipantObjectIDTypeCode")!));

        var export = XDocument.Parse(await Admin.GetStringAsync("/audit/export?action=Download&limit=5")).Root!;
        Assert.Equal("AuditMessages", export.Name.LocalName);
        Assert.All(export.Elements("AuditMessage"), AuditMessageShape.AssertValid);
    }

    private async Task<List<JsonNode>> EntriesAsync(string url)
    {
        // The trail is written in the background: verify first, which waits for what is queued to be written.
        await GetJsonAsync(Admin, "/audit/verify");
        return (await GetJsonAsync(Admin, url)).AsArray().Select(n => n!).ToList();
    }
}
