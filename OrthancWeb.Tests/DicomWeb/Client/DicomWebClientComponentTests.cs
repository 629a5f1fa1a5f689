using System.Security.Claims;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Components.Pages;
using OrthancWeb.DicomWeb.Client;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Security;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.DicomWeb.Client;

/// <summary>
/// The DICOMweb client's pages on the real services and jobs engine, against Debian's orthanc with its DICOMweb
/// plugin: the Send… dialog's DICOMweb destination, and the administrators' page (add a server, test it).
/// </summary>
public sealed class DicomWebClientComponentTests : BunitContext, IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-bunit-dicomweb-").FullName;
    private OrthancPeer _orthanc = null!;

    public DicomWebClientComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        RealServices.Add(Services, _folder);
        AddAuthorization().SetAuthorized("admin").SetRoles(OrthancWeb.Security.Roles.Administrator)
            .SetPolicies(OrthancWeb.Security.Policies.View, OrthancWeb.Security.Policies.Modify, OrthancWeb.Security.Policies.Administer);
    }

    public async Task InitializeAsync()
    {
        Renderer.SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Server", isInteractive: true));
        _orthanc = await OrthancPeer.StartAsync(dicomWeb: true);
        await Services.GetRequiredService<IndexStartup>().RunAsync();
        await Services.GetRequiredService<JobEngine>().StartAsync(CancellationToken.None);
        await Services.GetRequiredService<DicomWebServerRegistry>().SaveAsync("orthanc", new DicomWebServerOptions { Url = _orthanc.Url + "/dicom-web" }, default);
    }

    public new async Task DisposeAsync()
    {
        await Services.GetRequiredService<JobEngine>().StopAsync(CancellationToken.None);
        await base.DisposeAsync();
        await _orthanc.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Send_dialog_tests_and_sends_to_a_dicomweb_server_as_a_stow_job()
    {
        var instance = DicomWebClientFixture.NewInstance("CT_small.dcm");
        var stored = await Services.GetRequiredService<IngestService>().StoreAsync(instance, new IngestSource(IngestOrigin.WebUI));
        var popovers = Render<MudBlazor.MudPopoverProvider>();
        var dialogs = Render<MudBlazor.MudDialogProvider>();
        var page = Render<Study>(p => p.Add(s => s.Id, stored.StudyId!));
        page.WaitForAssertion(() => page.Find("[data-testid=send]"), TimeSpan.FromSeconds(10));
        page.Find("[data-testid=send]").Click();
        dialogs.WaitForAssertion(() => dialogs.Find("[data-testid=send-dialog]"), TimeSpan.FromSeconds(5));

        dialogs.Find("[data-testid=send-dialog] .mud-select .mud-input-control").MouseDown();
        AngleSharp.Dom.IElement Item() => popovers.FindAll(".mud-list-item").First(i => i.TextContent.StartsWith("orthanc (DICOMweb server at ", StringComparison.Ordinal));
        popovers.WaitForAssertion(() => Item(), TimeSpan.FromSeconds(5));
        Item().Click();
        dialogs.WaitForAssertion(() => Assert.False(dialogs.Find("[data-testid=echo]").HasAttribute("disabled")), TimeSpan.FromSeconds(5));

        dialogs.Find("[data-testid=echo]").Click();
        dialogs.WaitForAssertion(() => Assert.Equal("QIDO-RS succeeded", dialogs.Find("[data-testid=echo-result]").TextContent), TimeSpan.FromSeconds(15));

        dialogs.Find("[data-testid=send-submit]").Click();
        var jobs = Services.GetRequiredService<JobEngine>();
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        Job? job;
        while ((job = jobs.List().SingleOrDefault(j => j.Type == DicomWebStowJob.JobType)) is not { IsFinished: true })
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the STOW-RS job did not finish: " + job?.State);
            await Task.Delay(100);
        }
        Assert.True(job.State == JobState.Success, job.ErrorDetails);
        Assert.Equal("orthanc", job.Content["Server"]!.GetValue<string>());
        using var client = _orthanc.CreateClient();
        var found = await client.PostAsync("/tools/lookup", new StringContent(DicomWebClientFixture.SopUid(instance)));
        Assert.Contains("\"Instance\"", await found.Content.ReadAsStringAsync());
    }

    [Fact]
    public void Administrators_page_adds_a_server_and_tests_it_and_says_why_a_test_failed()
    {
        Render<MudBlazor.MudPopoverProvider>();
        var snackbars = Render<MudBlazor.MudSnackbarProvider>();
        var page = Render<DicomWebServers>();

        page.Find("input[data-testid=dicomweb-name]").Change("added");
        page.Find("input[data-testid=dicomweb-url]").Change(_orthanc.Url + "/dicom-web");
        page.Find("[data-testid=dicomweb-add]").Click();
        snackbars.WaitForAssertion(() => Assert.Contains("DICOMweb server added saved", snackbars.Markup), TimeSpan.FromSeconds(5));
        Assert.NotNull(Services.GetRequiredService<DicomWebServerRegistry>().Find("added"));

        TestButton(page, "added").Click();
        snackbars.WaitForAssertion(() => Assert.Contains("QIDO-RS to added succeeded", snackbars.Markup), TimeSpan.FromSeconds(15));

        page.Find("input[data-testid=dicomweb-name]").Change("nowhere");
        page.Find("input[data-testid=dicomweb-url]").Change($"http://127.0.0.1:{ServerProcess.FreePort()}/dicom-web");
        page.Find("[data-testid=dicomweb-add]").Click();
        page.WaitForAssertion(() => TestButton(page, "nowhere"), TimeSpan.FromSeconds(5));
        TestButton(page, "nowhere").Click();
        snackbars.WaitForAssertion(() => Assert.Contains("QIDO-RS to nowhere failed: cannot reach DICOMweb server nowhere", snackbars.Markup), TimeSpan.FromSeconds(15));

        // An entry that could not work is refused with the reason, and nothing is saved.
        page.Find("input[data-testid=dicomweb-name]").Change("bad");
        page.Find("input[data-testid=dicomweb-url]").Change("ftp://example.org/");
        page.Find("[data-testid=dicomweb-add]").Click();
        snackbars.WaitForAssertion(() => Assert.Contains("Url must be an absolute http:// or https:// URL", snackbars.Markup), TimeSpan.FromSeconds(5));
        Assert.Null(Services.GetRequiredService<DicomWebServerRegistry>().Find("bad"));
    }

    [Fact]
    public async Task A_viewer_may_query_but_not_send_or_retrieve_and_only_an_administrator_changes_servers()
    {
        var stored = await Services.GetRequiredService<IngestService>().StoreAsync(DicomWebClientFixture.NewInstance("CT_small.dcm"), new IngestSource(IngestOrigin.WebUI));
        var client = Services.GetRequiredService<DicomWebClient>();
        var registry = Services.GetRequiredService<DicomWebServerRegistry>();
        var jobs = Services.GetRequiredService<JobEngine>();
        var server = new DicomWebServerOptions { Url = _orthanc.Url + "/dicom-web" };
        using (Caller.Enter(User("val", Roles.Viewer)))
        {
            await client.QidoAsync("orthanc", "/studies", null, default);
            await Assert.ThrowsAsync<AccessDeniedException>(() => client.StowAsync("orthanc", [stored.StudyId!], null, default));
            await Assert.ThrowsAsync<AccessDeniedException>(() => client.RetrieveAsync("orthanc", new DicomWebResource { Study = "1.2.3" }, null, default));
            Assert.Throws<AccessDeniedException>(() => jobs.Submit(DicomWebStowJob.JobType, DicomWebStowJob.Content("orthanc", [stored.StudyId!])));
            await Assert.ThrowsAsync<AccessDeniedException>(() => registry.SaveAsync("mine", server, default));
        }
        using (Caller.Enter(User("cleo", Roles.Clinician)))
        {
            var sent = await client.StowAsync("orthanc", [stored.StudyId!], null, default);
            Assert.Equal((1, 0), (sent.InstancesCount, sent.FailedInstancesCount));
            await Assert.ThrowsAsync<AccessDeniedException>(() => registry.SaveAsync("mine", server, default));
            await Assert.ThrowsAsync<AccessDeniedException>(() => registry.DeleteAsync("orthanc", default));
        }
        Assert.Null(registry.Find("mine"));
        Assert.NotNull(registry.Find("orthanc"));
    }

    private static ClaimsPrincipal User(string name, string role) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)], "test"));

    private static AngleSharp.Dom.IElement TestButton(IRenderedComponent<DicomWebServers> page, string name) =>
        page.FindAll("tr").First(r => r.QuerySelector("td")?.TextContent == name).QuerySelector("[data-testid=dicomweb-test]")!;
}
