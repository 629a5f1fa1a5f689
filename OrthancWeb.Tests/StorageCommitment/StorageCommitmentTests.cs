using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Services;
using Commitment = OrthancWeb.Dicom.Network.Services.StorageCommitment;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using OrthancWeb.Tests.Workflows;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.StorageCommitment;

/// <summary>
/// Debian's orthanc 1.10.1 and our server, each a modality of the other, for storage commitment in both directions.
/// Orthanc also knows an AE title of ours, OWSILENT, at a port where nothing listens: a commitment we ask from that
/// title is accepted by orthanc, whose report then never arrives (it cannot connect), the real "peer never reports".
/// </summary>
public sealed class StorageCommitmentPeers : IAsyncLifetime
{
    public const string OurAet = "OWSC";
    public const string SilentAet = "OWSILENT";
    /// <summary>The Timeout of the modality whose report never comes: the store job's bound.</summary>
    public const int SilentTimeout = 2;

    private string _folder = "";
    public OrthancPeer Orthanc { get; private set; } = null!;
    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public HttpClient OrthancRest { get; private set; } = null!;
    public int OurDicomPort { get; private set; }

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-stgcmt-").FullName;
        var (ourPort, deadPort) = (ServerProcess.FreePort(), ServerProcess.FreePort());
        OurDicomPort = ourPort;
        Orthanc = await OrthancPeer.StartAsync(extraJson: $$"""
            "DicomModalities": {
              "us": { "AET": "{{OurAet}}", "Host": "127.0.0.1", "Port": {{ourPort}} },
              "silent": { "AET": "{{SilentAet}}", "Host": "127.0.0.1", "Port": {{deadPort}} }
            }
            """);
        Server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{ourPort}}, "DicomAet": "{{OurAet}}",
            "DicomModalities": {
              "orthanc": { "AET": "ORTHANC", "Host": "127.0.0.1", "Port": {{Orthanc.DicomPort}} },
              "orthanc-silent": { "AET": "ORTHANC", "Host": "127.0.0.1", "Port": {{Orthanc.DicomPort}}, "LocalAet": "{{SilentAet}}", "Timeout": {{SilentTimeout}} },
              "self": { "AET": "{{OurAet}}", "Host": "127.0.0.1", "Port": {{ourPort}} }
            },
            "Routing": [
              { "Name": "commit", "Trigger": "Instance", "Modality": "RTSTRUCT", "ForwardTo": [ "orthanc-silent" ], "StorageCommitment": true, "Retries": 0 }
            ]
            """);
        Rest = Server.CreateRestClient();
        OrthancRest = Orthanc.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Rest.Dispose();
        OrthancRest.Dispose();
        await Server.DisposeAsync();
        await Orthanc.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

/// <summary>Storage Commitment Push Model (PS3.4 Annex J) against orthanc, both as SCP and as SCU, and its failure paths.</summary>
public sealed class StorageCommitmentTests(StorageCommitmentPeers peers) : IClassFixture<StorageCommitmentPeers>
{
    private HttpClient Rest => peers.Rest;
    private HttpClient Orthanc => peers.OrthancRest;

    private static (string SopClass, string SopInstance) Uids(string file)
    {
        var ds = DicomFile.Open(Sample(file)).Dataset;
        return (ds.GetString(DicomTags.SOPClassUID)!, ds.GetString(DicomTags.SOPInstanceUID)!);
    }

    private static async Task<JsonNode> PostAsync(HttpClient client, string url, string json)
    {
        var response = await client.PostAsync(url, new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {url}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>A storage commitment transaction's report (orthanc's or ours), once it is no longer Pending.</summary>
    private static async Task<JsonNode> ReportAsync(HttpClient client, string transaction)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var report = await GetJsonAsync(client, $"/storage-commitment/{transaction}");
            if (report["Status"]!.GetValue<string>() != "Pending") return report;
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"transaction {transaction} still pending: {report.ToJsonString()}");
            await Task.Delay(50);
        }
    }

    private async Task<string[]> AuditDetailsAsync(string action, string transaction)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var details = (await GetJsonAsync(Rest, $"/audit?action={action}&limit=1000")).AsArray()
                .Where(e => e!["ResourceID"]?.GetValue<string>() == transaction).Select(e => e!["Details"]?.GetValue<string>() ?? "").ToArray();
            if (details.Length > 0) return details;
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), $"no {action} of {transaction} in the audit trail");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Orthanc_asks_us_to_commit_and_we_report_on_a_new_association()
    {
        var (mrClass, mrInstance) = Uids("MR_small.dcm");
        var uploaded = await UploadAsync(Orthanc, Sample("MR_small.dcm"));
        // Orthanc sends, then asks us for commitment on an association of its own, which it releases at once.
        var sent = await PostAsync(Orthanc, "/modalities/us/store",
            $$"""{"Resources": ["{{uploaded["ID"]!.GetValue<string>()}}"], "StorageCommitment": true}""");
        Assert.Equal(1, sent["InstancesCount"]!.GetValue<int>());
        var transaction = sent["StorageCommitmentTransactionUID"]!.GetValue<string>();
        var report = await ReportAsync(Orthanc, transaction);
        Assert.Equal("Success", report["Status"]!.GetValue<string>());
        Assert.Equal(mrInstance, report["Success"]![0]!["SOPInstanceUID"]!.GetValue<string>());
        Assert.Equal(mrClass, report["Success"]![0]!["SOPClassUID"]!.GetValue<string>());
        Assert.Empty(report["Failures"]!.AsArray());
        // Our audit trail has the request and the report, and says where the report went.
        Assert.Contains(await AuditDetailsAsync("StorageCommitment", transaction), d => d.Contains("asked of us: 1 instance(s)", StringComparison.Ordinal));
        Assert.Contains(await AuditDetailsAsync("StorageCommitmentReport", transaction), d => d.Contains("on a new association", StringComparison.Ordinal));

        // An instance we do not hold (0x0112), and one we hold under another SOP class (0x0119).
        var unknown = await PostAsync(Orthanc, "/modalities/us/storage-commitment",
            $$"""{"DicomInstances": [ ["1.2.840.10008.5.1.4.1.1.7", "1.2.826.0.1.3680043.2.1125.999.1"], {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.2", "SOPInstanceUID": "{{mrInstance}}"} ]}""");
        var failed = await ReportAsync(Orthanc, unknown["ID"]!.GetValue<string>());
        Assert.Equal("Failure", failed["Status"]!.GetValue<string>());
        var reasons = failed["Failures"]!.AsArray().ToDictionary(f => f!["SOPInstanceUID"]!.GetValue<string>(), f => f!["FailureReason"]!.GetValue<int>());
        Assert.Equal(0x0112, reasons["1.2.826.0.1.3680043.2.1125.999.1"]);
        Assert.Equal(0x0119, reasons[mrInstance]);
        Assert.Empty(failed["Success"]!.AsArray());
    }

    [Fact]
    public async Task We_send_to_orthanc_with_storage_commitment_and_the_job_shows_every_instance_committed()
    {
        var uploaded = await UploadAsync(Rest, Sample("CT_small.dcm"));
        var (_, ctInstance) = Uids("CT_small.dcm");
        var submitted = await PostAsync(Rest, "/modalities/orthanc/store",
            $$"""{"Resources": ["{{uploaded["ID"]!.GetValue<string>()}}"], "StorageCommitment": true, "Asynchronous": true}""");
        var job = await JobsTests.WaitForStateAsync(Rest, submitted["ID"]!.GetValue<string>(), "Success", "Failure");
        var content = job["Content"]!;
        Assert.True(job["State"]!.GetValue<string>() == "Success", job.ToJsonString());
        Assert.True(content["StorageCommitmentReport"]!["Status"]!.GetValue<string>() == "Success", content.ToJsonString());
        Assert.Equal(1, content["StorageCommitmentReport"]!["CommittedInstancesCount"]!.GetValue<int>());
        Assert.Equal(0, content["StorageCommitmentReport"]!["FailedInstancesCount"]!.GetValue<int>());
        var transaction = content["StorageCommitmentTransactionUID"]!.GetValue<string>();
        // Orthanc reports on an association it opens to our listener (its N-ACTION association is ours, kept open in vain).
        Assert.Contains(await AuditDetailsAsync("StorageCommitmentReport", transaction), d => d.Contains("from ORTHANC on a new association", StringComparison.Ordinal));
        var ours = await GetJsonAsync(Rest, $"/storage-commitment/{transaction}");
        Assert.Equal("Success", ours["Status"]!.GetValue<string>());
        Assert.Equal(ctInstance, ours["Success"]![0]!["SOPInstanceUID"]!.GetValue<string>());
        // Committed by the archive: our copy may go (Orthanc's /remove), and it does.
        Assert.True((await Rest.PostAsync($"/storage-commitment/{transaction}/remove", new StringContent(""))).IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Rest.GetAsync($"/instances/{uploaded["ID"]!.GetValue<string>()}")).StatusCode);

        // Orthanc's REST shape of ours: an instance orthanc does not hold comes back failed, with its reason.
        var asked = await PostAsync(Rest, "/modalities/orthanc/storage-commitment",
            """{"DicomInstances": [ ["1.2.840.10008.5.1.4.1.1.7", "1.2.826.0.1.3680043.2.1125.999.2"] ]}""");
        Assert.Equal("/storage-commitment/" + asked["ID"]!.GetValue<string>(), asked["Path"]!.GetValue<string>());
        var failed = await ReportAsync(Rest, asked["ID"]!.GetValue<string>());
        Assert.Equal("Failure", failed["Status"]!.GetValue<string>());
        Assert.Equal("ORTHANC", failed["RemoteAET"]!.GetValue<string>());
        Assert.Equal(274, failed["Failures"]![0]!["FailureReason"]!.GetValue<int>());
        Assert.Equal("1.2.826.0.1.3680043.2.1125.999.2", failed["Failures"]![0]!["SOPInstanceUID"]!.GetValue<string>());
        // A report with failures removes nothing.
        Assert.Equal(HttpStatusCode.BadRequest, (await Rest.PostAsync($"/storage-commitment/{asked["ID"]!.GetValue<string>()}/remove", new StringContent(""))).StatusCode);
    }

    [Fact]
    public async Task A_requester_that_keeps_its_association_gets_the_report_on_it()
    {
        // Our own SCU keeps its association open while it waits: our SCP reports on it (PS3.4 J.3.3).
        var uploaded = await UploadAsync(Rest, Sample("rtplan.dcm"));
        var submitted = await PostAsync(Rest, "/modalities/self/store",
            $$"""{"Resources": ["{{uploaded["ID"]!.GetValue<string>()}}"], "StorageCommitment": true, "Asynchronous": true}""");
        var job = await JobsTests.WaitForStateAsync(Rest, submitted["ID"]!.GetValue<string>(), "Success", "Failure");
        Assert.True(job["State"]!.GetValue<string>() == "Success", job.ToJsonString());
        var transaction = job["Content"]!["StorageCommitmentTransactionUID"]!.GetValue<string>();
        Assert.Contains(await AuditDetailsAsync("StorageCommitmentReport", transaction), d => d.Contains("on the requester's association", StringComparison.Ordinal));
        Assert.Contains(await AuditDetailsAsync("StorageCommitmentReport", transaction), d => d.Contains("on our association", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_peer_that_never_reports_fails_the_job_within_the_modality_timeout()
    {
        // Orthanc takes the request from OWSILENT, then cannot reach OWSILENT's port to report.
        var uploaded = await UploadAsync(Rest, Sample("MR_small.dcm"));
        var watch = Stopwatch.StartNew();
        var submitted = await PostAsync(Rest, "/modalities/orthanc-silent/store",
            $$"""{"Resources": ["{{uploaded["ID"]!.GetValue<string>()}}"], "StorageCommitment": true, "Asynchronous": true}""");
        var job = await JobsTests.WaitForStateAsync(Rest, submitted["ID"]!.GetValue<string>(), "Success", "Failure");
        Assert.True(job["State"]!.GetValue<string>() == "Failure", job.ToJsonString());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(StorageCommitmentPeers.SilentTimeout + 8), $"the job took {watch.Elapsed}");
        var details = job["ErrorDetails"]!.GetValue<string>();
        Assert.Contains("no storage commitment report (N-EVENT-REPORT) within 2 s", details);
        Assert.Contains("ORTHANC", details);
        var content = job["Content"]!;
        Assert.Equal(0, content["FailedInstancesCount"]!.GetValue<int>()); // the C-STOREs themselves went through
        Assert.Equal("Failure", content["StorageCommitmentReport"]!["Status"]!.GetValue<string>());
        // The transaction stays pending: a late report would still be taken.
        var transaction = content["StorageCommitmentTransactionUID"]!.GetValue<string>();
        Assert.Equal("Pending", (await GetJsonAsync(Rest, $"/storage-commitment/{transaction}"))["Status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_routing_rule_with_storage_commitment_fails_its_route_when_no_report_comes()
    {
        // The rule "commit" of the configuration: RTSTRUCTs go to the modality whose report never comes.
        await UploadAsync(Rest, Sample("rtstruct.dcm"));
        var deadline = Stopwatch.StartNew();
        JsonNode? route;
        while ((route = (await GetJsonAsync(Rest, "/jobs?expand")).AsArray()
                   .FirstOrDefault(j => j!["Type"]!.GetValue<string>() == "Route" && j["State"]!.GetValue<string>() == "Failure")) is null)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), "no failed route job");
            await Task.Delay(100);
        }
        // The instance went; the rule's commitment is what failed, and the job says so.
        Assert.True(route["Content"]!["Rule"]!["StorageCommitment"]!.GetValue<bool>());
        Assert.Contains("storage commitment not obtained", route["ErrorDetails"]!.GetValue<string>());
        Assert.Contains("no storage commitment report (N-EVENT-REPORT) within 2 s", route["ErrorDetails"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_modality_not_allowed_storage_commitment_cannot_ask_for_it()
    {
        // Our modality ORTHANCNOSC (allowed everything but storage commitment) is orthanc calling with that AE title.
        var put = await Rest.PutAsync("/modalities/orthanc-nosc", new StringContent(
            $$"""{"AET": "ORTHANCNOSC", "Host": "127.0.0.1", "Port": {{peers.Orthanc.DicomPort}}, "AllowStorageCommitment": false}""", Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        Assert.False((await GetJsonAsync(Rest, "/modalities/orthanc-nosc/configuration"))["AllowStorageCommitment"]!.GetValue<bool>());
        put = await Orthanc.PutAsync("/modalities/us-nosc", new StringContent(
            $$"""{"AET": "{{StorageCommitmentPeers.OurAet}}", "Host": "127.0.0.1", "Port": {{peers.OurDicomPort}}, "LocalAet": "ORTHANCNOSC"}""", Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        var (mrClass, mrInstance) = Uids("MR_small.dcm");
        // Refused at negotiation (no Storage Commitment presentation context for it): orthanc cannot send its N-ACTION.
        var asked = await Orthanc.PostAsync("/modalities/us-nosc/storage-commitment", new StringContent(
            $$"""{"DicomInstances": [ ["{{mrClass}}", "{{mrInstance}}"] ]}""", Encoding.UTF8, "application/json"));
        var text = await asked.Content.ReadAsStringAsync();
        Assert.False(asked.IsSuccessStatusCode, text);
        Assert.Contains("No acceptable presentation context", text, StringComparison.Ordinal);

        // The same peer once allowed: the request goes through and is reported on.
        put = await Rest.PutAsync("/modalities/orthanc-nosc", new StringContent(
            $$"""{"AET": "ORTHANCNOSC", "Host": "127.0.0.1", "Port": {{peers.Orthanc.DicomPort}}, "AllowStorageCommitment": true}""", Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        var allowed = await PostAsync(Orthanc, "/modalities/us-nosc/storage-commitment", $$"""{"DicomInstances": [ ["{{mrClass}}", "1.2.826.0.1.3680043.2.1125.999.3"] ]}""");
        Assert.Equal(274, (await ReportAsync(Orthanc, allowed["ID"]!.GetValue<string>()))["Failures"]![0]!["FailureReason"]!.GetValue<int>());
    }

    [Fact]
    public async Task Our_SCP_answers_the_DIMSE_N_messages_as_PS3_7_says_and_reports_on_a_kept_association()
    {
        // The toolkit's client against our server, calling as orthanc (a modality allowed storage commitment).
        await using var client = await DicomClient.ConnectAsync("127.0.0.1", peers.OurDicomPort, "ORTHANC", StorageCommitmentPeers.OurAet,
            [(SopClasses.StorageCommitmentPushModel, SopClasses.Uncompressed)]);
        var context = client.Association.FindContext(SopClasses.StorageCommitmentPushModel)!;
        var syntax = TransferSyntax.Lookup(context.AcceptedTransferSyntax!);
        var unknown = new SopReference("1.2.840.10008.5.1.4.1.1.7", "1.2.826.0.1.3680043.2.1125.999.4");
        async Task<DimseMessage> ActionAsync(string instance, ushort actionType, DicomDataset data)
        {
            var rq = DimseMessage.ActionRequest(client.Channel.NextMessageId(), SopClasses.StorageCommitmentPushModel, instance, actionType, DicomWriter.ToBytes(data, syntax));
            rq.PresentationContextId = context.Id;
            return await client.Channel.RequestAsync(rq);
        }
        var request = new StorageCommitmentRequest(Commitment.NewTransactionUid(), [unknown]);
        Assert.Equal(DimseStatus.NoSuchActionType, (await ActionAsync(SopClasses.StorageCommitmentPushModelInstance, 2, request.ToDataset())).Status);
        Assert.Equal(DimseStatus.NoSuchObjectInstance, (await ActionAsync("1.2.3.4", 1, request.ToDataset())).Status);
        Assert.Equal(DimseStatus.MissingAttribute, (await ActionAsync(SopClasses.StorageCommitmentPushModelInstance, 1,
            new DicomDataset().Add(DicomTags.TransactionUID, DicomVR.UI, request.TransactionUid))).Status);
        // A report for a transaction that is not ours: Invalid argument value (PS3.7 C.4.17).
        Assert.Equal(DimseStatus.InvalidArgumentValue, await client.ReportStorageCommitmentAsync(new StorageCommitmentReport(request.TransactionUid, [unknown], [])));

        // A valid request: the response names the well-known instance and the action; the report follows on this association.
        var received = new TaskCompletionSource<StorageCommitmentReport>();
        using var stop = new CancellationTokenSource();
        var listening = Commitment.ReceiveReportsAsync(client.Channel, r => { received.TrySetResult(r); return Task.FromResult(DimseStatus.Success); }, stop.Token);
        var rsp = await ActionAsync(SopClasses.StorageCommitmentPushModelInstance, 1, request.ToDataset());
        Assert.Equal(DimseStatus.Success, rsp.Status);
        Assert.Equal(SopClasses.StorageCommitmentPushModelInstance, rsp.AffectedSopInstanceUid);
        Assert.Equal(SopClasses.StorageCommitmentPushModel, rsp.AffectedSopClassUid);
        Assert.Equal(1, rsp.ActionTypeId);
        var report = await received.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        await listening;
        Assert.Equal(request.TransactionUid, report.TransactionUid);
        Assert.Equal(Commitment.EventFailuresExist, report.EventTypeId);
        Assert.Empty(report.Committed);
        Assert.Equal((unknown.SopInstanceUid, Commitment.NoSuchObjectInstance), (report.Failed[0].SopInstanceUid, report.Failed[0].Reason));
    }

    [Fact]
    public async Task Modalities_show_AllowStorageCommitment_and_unknown_transactions_are_404()
    {
        var expanded = await GetJsonAsync(Rest, "/modalities?expand");
        Assert.True(expanded["orthanc"]!["AllowStorageCommitment"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NotFound, (await Rest.GetAsync("/storage-commitment/2.25.1")).StatusCode);
    }
}
