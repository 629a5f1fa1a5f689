using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Export;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Networking;
using OrthancWeb.Routing;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Failures;

/// <summary>
/// Jobs saved by the build before typed job parameters (their Content written field by field) load from the jobs
/// folder and run: each of them, in the exact shape that build wrote, with the lenient values it accepted.
/// </summary>
public sealed class OldJobShapeTests : IAsyncLifetime
{
    private readonly FailingPeers _peers = new();
    private RealServiceHost _host = null!;
    private ServiceProvider _services = null!;
    private string _destination = "";

    public async Task InitializeAsync()
    {
        var (aet, port) = await _peers.StartWorkingAsync();
        _destination = _peers.ReceivedFolder;
        var dicom = new DicomOptions();
        dicom.DicomModalities["working"] = new ModalityOptions { AET = aet, Host = "127.0.0.1", Port = port };
        _services = (_host = await RealServiceHost.StartAsync("ow-old-jobs-", dicom)).Services;
    }

    public async Task DisposeAsync()
    {
        await _services.GetRequiredService<JobEngine>().StopAsync(CancellationToken.None);
        await _host.DisposeAsync();
        await _peers.DisposeAsync();
    }

    [Fact]
    public async Task Jobs_saved_in_the_previous_shape_load_and_run()
    {
        var ingest = _services.GetRequiredService<IngestService>();
        var stored = await ingest.StoreAsync(File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")), new IngestSource(IngestOrigin.RestApi));
        var study = stored.StudyId!;
        // RouteJob wrote its rule with System.Text.Json's defaults: the trigger as a number.
        var rule = JsonSerializer.SerializeToNode(new RoutingRule { Name = "old", Trigger = RoutingTrigger.StableStudy, ForwardTo = ["working"] })!;
        var jobs = new Dictionary<string, (string Type, JsonObject Content)>
        {
            ["store"] = (ModalityStoreJob.JobType, new JsonObject
            {
                ["Description"] = "Send to modality", ["RemoteModality"] = "working", ["ParentResources"] = new JsonArray(study),
            }),
            ["anonymize"] = (ResourceModificationJob.JobType, new JsonObject
            {
                ["Description"] = "Anonymization", ["IsAnonymization"] = true, ["Level"] = "Study", ["ParentResources"] = new JsonArray(study),
                ["Request"] = new JsonObject { ["Replace"] = new JsonObject { ["PatientName"] = "OLD^SHAPE" }, ["KeepSource"] = "true", ["Asynchronous"] = true },
            }),
            ["archive"] = (ArchiveJob.JobType, new JsonObject
            {
                ["Description"] = "ZIP archive", ["IsMedia"] = false, ["ParentResources"] = new JsonArray(study),
            }),
            ["route"] = (RouteJob.JobType, new JsonObject
            {
                ["Description"] = "Routing rule old", ["Rule"] = rule, ["Level"] = "Study", ["ParentResources"] = new JsonArray(study),
            }),
        };
        var folder = Path.Combine(_host.Folder, "jobs");
        Directory.CreateDirectory(folder);
        foreach (var (id, (type, content)) in jobs)
        {
            // The job file as JobEngine wrote it (its own serializer: enums as names).
            var file = new JsonObject
            {
                ["Id"] = id, ["Type"] = type, ["Priority"] = 0, ["State"] = "Pending", ["Progress"] = 0,
                ["CreationTime"] = "2026-11-30T10:00:00Z", ["CompletionTime"] = null, ["EffectiveRuntime"] = 0, ["Content"] = content,
                ["Result"] = null, ["ErrorDescription"] = "Success", ["ErrorDetails"] = "", ["Attempts"] = 0, ["MaxRetries"] = 0,
                ["RetryDelaySeconds"] = 10, ["NextAttempt"] = null, ["User"] = "admin",
            };
            await File.WriteAllTextAsync(Path.Combine(folder, id + ".json"), file.ToJsonString());
        }

        var engine = _services.GetRequiredService<JobEngine>();
        await engine.StartAsync(CancellationToken.None);
        foreach (var id in jobs.Keys)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (engine.Get(id) is { IsFinished: false } && DateTime.UtcNow < deadline) await Task.Delay(50);
            var job = engine.Get(id)!;
            Assert.True(job.State == JobState.Success, $"{id}: {job.State} {job.ErrorDetails}");
        }

        var anonymized = engine.Get("anonymize")!.Result!["ID"]!.GetValue<string>();
        var info = await _services.GetRequiredService<IndexQueries>().GetAsync(anonymized, ResourceLevel.Study, default);
        Assert.Equal("OLD^SHAPE", info!.PatientMainDicomTags![OrthancWeb.Dicom.Data.DicomTags.PatientName]);
        Assert.True(File.Exists(_services.GetRequiredService<ArchiveJob>().OutputPath("archive")));
        Assert.Equal("working", engine.Get("route")!.Result!["Forwarded"]![0]!.GetValue<string>());
        Assert.NotEmpty(Directory.GetFiles(_destination, "*", SearchOption.AllDirectories)); // what store and route sent
    }

    [Fact]
    public void A_retrieve_job_of_the_previous_shape_reads_its_parameters()
    {
        // The previous build wrote tags as "gggg,eeee" and a missing value as null.
        var job = new Job
        {
            Id = "move", Type = ModalityMoveJob.JobType,
            Content = JsonNode.Parse("""
                {"Description": "Retrieve from modality", "RemoteModality": "pacs", "Level": "Study", "TargetAet": null,
                 "Query": [{"0020,000d": "1.2.3", "0010,0020": null}]}
                """)!.AsObject(),
        };
        var parameters = job.ContentAs<ModalityMoveParameters>();
        Assert.Equal(("pacs", ResourceLevel.Study, null), (parameters.RemoteModality, parameters.Level, parameters.TargetAet));
        Assert.Equal("1.2.3", parameters.Query[0]["0020,000d"]);
        // And written back in that shape.
        var again = Job.ContentOf(parameters);
        Assert.Equal("Study", again["Level"]!.GetValue<string>());
        Assert.Equal("1.2.3", again["Query"]![0]!["0020,000d"]!.GetValue<string>());
    }
}
