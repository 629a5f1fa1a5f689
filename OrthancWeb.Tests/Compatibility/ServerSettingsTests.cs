using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Compatibility;

/// <summary>
/// Orthanc's run-time settings (/tools/accepted-transfer-syntaxes, unknown-sop-class-accepted, log-level) sent to
/// both servers: the same answers, and the same effect on what a storescu gets through.
/// </summary>
public sealed class ServerSettingsTests(OrthancDifferentialFixture fx) : IClassFixture<OrthancDifferentialFixture>
{
    private int OurDicomPort => int.Parse(File.ReadAllText(Path.Combine(fx.Ours.DataDirectory, "..", "ports")).Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);

    private static HashSet<string> Uids(Answer a) => a.Json!.AsArray().Select(n => n!.GetValue<string>()).ToHashSet();

    [Fact]
    public async Task Accepted_transfer_syntaxes_are_set_by_pattern_or_list_and_govern_storage()
    {
        try
        {
            // A pattern: the JPEG family 50-59, which both dictionaries know whole.
            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Put, "/tools/accepted-transfer-syntaxes", "\"1.2.840.10008.1.2.4.5?\"");
            Assert.Equal((200, 200), (ours.Status, orthanc.Status));
            Assert.Equal(Uids(orthanc), Uids(ours));
            Assert.Equal(10, Uids(ours).Count);
            (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, "/tools/accepted-transfer-syntaxes");
            Assert.Equal(Uids(orthanc), Uids(ours));

            // An uncompressed file then finds no presentation context on either server.
            var file = Rest.Sample("CT_small.dcm");
            foreach (var port in new[] { OurDicomPort, fx.Orthanc.DicomPort })
            {
                var refused = await StorescuSender.SendAsync("SETTINGS", "ANY-SCP", port, [file]);
                Assert.True(refused.Acknowledged.Count == 0, $"port {port}: {refused.Output}");
            }

            // A list: implicit and explicit little endian; the file goes through again.
            (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Put, "/tools/accepted-transfer-syntaxes", """["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]""");
            Assert.Equal(Uids(orthanc), Uids(ours));
            var sent = await StorescuSender.SendAsync("SETTINGS", "ANY-SCP", OurDicomPort, [file]);
            Assert.True(sent.Acknowledged.Count == 1, sent.Output);
        }
        finally
        {
            await fx.SendBothAsync(HttpMethod.Put, "/tools/accepted-transfer-syntaxes", "\"*\"");
        }
    }

    [Fact]
    public async Task Unknown_sop_classes_are_refused_until_accepted()
    {
        var dir = Directory.CreateTempSubdirectory("ow-unknown-sop-");
        try
        {
            // A vendor's own SOP class: a UID no dictionary lists.
            var file = Path.Combine(dir.FullName, "private-class.dcm");
            File.Copy(Rest.Sample("CT_small.dcm"), file);
            var modified = Peers.Run("dcmodify", "-nb", "-i", "(0008,0016)=1.2.826.0.1.3680043.8.498.77",
                "-i", "(0008,0018)=1.2.826.0.1.3680043.8.498.78", file);
            Assert.True(modified.ExitCode == 0, modified.Stderr);

            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, "/tools/unknown-sop-class-accepted");
            Assert.Equal(("0", "0"), (ours.Body.Trim(), orthanc.Body.Trim()));
            // Our own server as the sender (storescu will not send a class DCMTK does not know): the instance goes in
            // over REST, then to our DICOM port as a modality, proposing its own SOP class.
            var upload = await fx.OursClient.PostAsync("/instances", new ByteArrayContent(await File.ReadAllBytesAsync(file)));
            var id = JsonNode.Parse(await upload.Content.ReadAsStringAsync())!["ID"]!.GetValue<string>();
            var self = await fx.OursClient.PutAsync("/modalities/settings-self", new StringContent($$"""["ORTHANCWEB", "127.0.0.1", {{OurDicomPort}}]"""));
            Assert.True(self.IsSuccessStatusCode, await self.Content.ReadAsStringAsync());
            // The synchronous store answers its job's outcome: the instance failed (no presentation context), or went.
            async Task<int> FailedStores()
            {
                var answer = await fx.OursClient.PostAsync("/modalities/settings-self/store", new StringContent($$"""{"Resources": ["{{id}}"], "Synchronous": true}"""));
                var body = await answer.Content.ReadAsStringAsync();
                return answer.IsSuccessStatusCode ? JsonNode.Parse(body)!["FailedInstancesCount"]!.GetValue<int>() : throw new InvalidOperationException(body);
            }
            Assert.Equal(1, await FailedStores());

            (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Put, "/tools/unknown-sop-class-accepted", "true");
            Assert.Equal((orthanc.Status, 200), (ours.Status, 200));
            Assert.Equal("1", (await fx.SendBothAsync(HttpMethod.Get, "/tools/unknown-sop-class-accepted")).Ours.Body.Trim());
            Assert.Equal(0, await FailedStores());

            // Not a boolean: the same 400 and Orthanc error code.
            (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Put, "/tools/unknown-sop-class-accepted", "perhaps");
            Assert.Equal((400, 400), (ours.Status, orthanc.Status));
            Assert.Equal(orthanc.Json!["OrthancStatus"]!.GetValue<int>(), ours.Json!["OrthancStatus"]!.GetValue<int>());
        }
        finally
        {
            await fx.SendBothAsync(HttpMethod.Put, "/tools/unknown-sop-class-accepted", "false");
            await fx.OursClient.DeleteAsync("/modalities/settings-self");
            dir.Delete(true);
        }
    }

    [Fact]
    public async Task The_log_level_is_read_and_changed_as_in_orthanc()
    {
        try
        {
            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, "/tools/log-level");
            Assert.Equal(orthanc.Body.Trim(), ours.Body.Trim());
            foreach (var level in new[] { "verbose", "trace", "default" })
            {
                (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Put, "/tools/log-level", level);
                Assert.Equal((orthanc.Status, 200), (ours.Status, 200));
                (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, "/tools/log-level");
                Assert.Equal((level, level), (ours.Body.Trim(), orthanc.Body.Trim()));
            }
            (ours, _) = await fx.SendBothAsync(HttpMethod.Put, "/tools/log-level", "nonsense");
            Assert.Equal(400, ours.Status);
        }
        finally
        {
            await fx.SendBothAsync(HttpMethod.Put, "/tools/log-level", "default");
        }
    }
}
