using Bunit;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Components.Pages;
using OrthancWeb.Networking;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Routing;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Components;

/// <summary>bUnit tests of the workflow UI (anonymize dialog, jobs page, modalities, routing) on the real services and jobs engine.</summary>
public sealed class WorkflowComponentTests : BunitContext, IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-bunit-wf-").FullName;
    private readonly int _downPort = ServerProcess.FreePort();

    public WorkflowComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        var dicom = new DicomOptions();
        dicom.DicomModalities["down"] = new ModalityOptions { AET = "DOWN", Host = "127.0.0.1", Port = _downPort };
        RealServices.Add(Services, _folder, dicom);
        AddAuthorization().SetAuthorized("admin").SetRoles(OrthancWeb.Security.Roles.Administrator)
            .SetPolicies(OrthancWeb.Security.Policies.View, OrthancWeb.Security.Policies.Modify, OrthancWeb.Security.Policies.Administer);
    }

    public async Task InitializeAsync()
    {
        // The pages run interactively on the server (ViewedPage asks, to record each view once); set once every
        // service is registered, since the renderer is one of them.
        Renderer.SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Server", isInteractive: true));
        await Services.GetRequiredService<IndexStartup>().RunAsync();
        await Services.GetRequiredService<JobEngine>().StartAsync(CancellationToken.None);
    }

    public new async Task DisposeAsync()
    {
        await Services.GetRequiredService<JobEngine>().StopAsync(CancellationToken.None);
        await base.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    private async Task<IngestResult> StoreAsync(string name) =>
        await Services.GetRequiredService<IngestService>().StoreAsync(File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), name)), new IngestSource(IngestOrigin.WebUI));

    [Fact]
    public async Task Anonymize_dialog_on_the_study_page_runs_a_job_that_makes_the_new_study()
    {
        var stored = await StoreAsync("CT_small.dcm");
        Render<MudBlazor.MudPopoverProvider>();
        var dialogs = Render<MudBlazor.MudDialogProvider>();
        var page = Render<Study>(p => p.Add(s => s.Id, stored.StudyId!));
        page.WaitForAssertion(() => page.Find("[data-testid=anonymize]"), TimeSpan.FromSeconds(10));
        page.Find("[data-testid=anonymize]").Click();
        dialogs.WaitForAssertion(() => dialogs.Find("[data-testid=anonymize-submit]"), TimeSpan.FromSeconds(5));
        dialogs.Find("[data-testid=anon-name] input, input[data-testid=anon-name]").Change("TRIAL^UI");
        dialogs.Find("[data-testid=anonymize-submit]").Click();

        var engine = Services.GetRequiredService<JobEngine>();
        Job? job = null;
        for (var i = 0; i < 200 && job?.State != JobState.Success; i++)
        {
            job = engine.List().FirstOrDefault(j => j.Type == OrthancWeb.Modification.ResourceModificationJob.JobType);
            if (job?.State == JobState.Failure) Assert.Fail(job.ErrorDetails);
            await Task.Delay(50);
        }
        Assert.Equal(JobState.Success, job!.State);
        var newStudy = job.Result!["ID"]!.GetValue<string>();
        var info = await Services.GetRequiredService<IndexQueries>().GetAsync(newStudy, ResourceLevel.Study, default);
        Assert.Equal("TRIAL^UI", info!.PatientMainDicomTags![OrthancWeb.Dicom.Data.DicomTags.PatientName]);
        Assert.Equal("admin", job.User);
    }

    [Fact]
    public async Task Jobs_page_shows_live_state_and_cancels_a_waiting_send()
    {
        var stored = await StoreAsync("MR_small.dcm");
        var engine = Services.GetRequiredService<JobEngine>();
        var job = engine.Submit(ModalityStoreJob.JobType, ModalityStoreJob.Content("down", [stored.InstanceId!]), maxRetries: 100, retryDelaySeconds: 60);
        var page = Render<OrthancWeb.Components.Pages.Jobs>();
        page.WaitForAssertion(() => Assert.Contains("Retry", page.Find("[data-testid=job-state]").TextContent), TimeSpan.FromSeconds(10));
        Assert.Contains("Send to modality", page.Markup);
        // Found and clicked in one turn of the renderer: the page re-renders on every job event, and a button found before
        // a re-render has lost its handler by the click (a CI run hit it).
        await page.InvokeAsync(() => page.Find("[data-testid=job-cancel]").Click());
        page.WaitForAssertion(() => Assert.Contains("Failure", page.Find("[data-testid=job-state]").TextContent), TimeSpan.FromSeconds(5));
        Assert.Equal("Canceled job", engine.Get(job.Id)!.ErrorDescription);
        page.WaitForAssertion(() => page.Find("[data-testid=job-resubmit]"), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Modalities_page_adds_and_deletes_a_database_modality_and_keeps_configured_ones()
    {
        Render<MudBlazor.MudPopoverProvider>();
        var page = Render<Modalities>();
        Assert.Contains("appsettings.json", page.Markup); // "down" comes from the configuration
        page.Find("[data-testid=modality-name] input, input[data-testid=modality-name]").Change("ward-pacs");
        page.Find("[data-testid=modality-aet] input, input[data-testid=modality-aet]").Change("WARDPACS");
        page.Find("[data-testid=modality-host] input, input[data-testid=modality-host]").Change("10.1.2.3");
        page.Find("[data-testid=modality-add]").Click();
        var registry = Services.GetRequiredService<ModalityRegistry>();
        page.WaitForAssertion(() => Assert.Equal("WARDPACS", registry.Find("ward-pacs")?.AET), TimeSpan.FromSeconds(5));
        page.WaitForAssertion(() => Assert.Contains("10.1.2.3", page.Markup), TimeSpan.FromSeconds(5));
        Assert.Single(page.FindAll("[data-testid=modality-delete]")); // only the database one can go
        page.Find("[data-testid=modality-delete]").Click();
        page.WaitForAssertion(() => Assert.Null(registry.Find("ward-pacs")), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Routing_page_saves_a_rule_and_refuses_one_that_does_nothing()
    {
        Render<MudBlazor.MudPopoverProvider>();
        Render<MudBlazor.MudSnackbarProvider>();
        var page = Render<OrthancWeb.Components.Pages.Routing>();
        page.Find("[data-testid=rule-name] input, input[data-testid=rule-name]").Change("useless");
        page.Find("[data-testid=rule-add]").Click();
        var registry = Services.GetRequiredService<RoutingRegistry>();
        Assert.Empty(registry.All); // neither anonymizes nor forwards: refused

        page.Find("[data-testid=rule-modality] input, input[data-testid=rule-modality]").Change("CT");
        page.Find("[data-testid=rule-anonymize] input, input[data-testid=rule-anonymize]").Change(true);
        page.Find("[data-testid=rule-add]").Click();
        page.WaitForAssertion(() => Assert.Single(registry.All), TimeSpan.FromSeconds(5));
        var rule = registry.All[0].Rule;
        Assert.Equal(("useless", "CT", true), (rule.Name, rule.Modality, rule.Anonymize));
        page.WaitForAssertion(() => Assert.Contains("modality CT", page.Markup), TimeSpan.FromSeconds(5));
    }
}
