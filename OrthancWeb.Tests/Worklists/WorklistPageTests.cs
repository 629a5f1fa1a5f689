using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Worklists;

namespace OrthancWeb.Tests.Worklists;

/// <summary>The Worklists page with the real services (SQLite index) behind it, as a clinician.</summary>
public sealed class WorklistPageTests : BunitContext, IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-bunit-wl-").FullName;

    /// <summary>The page's "today": the day it lists and schedules for.</summary>
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 2, 7, 0, 0, TimeSpan.Zero));

    public WorklistPageTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        RealServices.Add(Services, _folder);
        Services.AddSingleton<TimeProvider>(_clock);
        AddAuthorization().SetAuthorized("clinician").SetRoles(OrthancWeb.Security.Roles.Clinician)
            .SetPolicies(OrthancWeb.Security.Policies.View, OrthancWeb.Security.Policies.Modify);
    }

    public async Task InitializeAsync()
    {
        Renderer.SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Server", isInteractive: true));
        await Services.GetRequiredService<IndexStartup>().RunAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    [Fact]
    public async Task The_page_schedules_a_procedure_for_today_lists_it_and_deletes_it_and_finds_archived_patients()
    {
        Render<MudBlazor.MudPopoverProvider>();
        Render<MudBlazor.MudSnackbarProvider>();
        var page = Render<OrthancWeb.Components.Pages.Worklists>();
        Assert.Contains("No procedure scheduled", page.Markup);

        page.Find("[data-testid=worklist-new-name] input, input[data-testid=worklist-new-name]").Change("PAGE^PAT");
        page.Find("[data-testid=worklist-new-id] input, input[data-testid=worklist-new-id]").Change("PG1");
        page.Find("[data-testid=worklist-new-accession] input, input[data-testid=worklist-new-accession]").Change("ACCPAGE");
        page.Find("[data-testid=worklist-new-modality] input, input[data-testid=worklist-new-modality]").Change("mr");
        page.Find("[data-testid=worklist-add]").Click();

        var store = Services.GetRequiredService<WorklistStore>();
        page.WaitForAssertion(() => Assert.Contains("PAGE PAT", page.Markup), TimeSpan.FromSeconds(5));
        var item = Assert.Single(await store.ListAsync(new WorklistFilter(), CancellationToken.None));
        Assert.Equal(("MR", "20261202", "ACCPAGE"), (item.Modality, item.ScheduledDate, item.AccessionNumber));

        page.Find("[data-testid=worklist-delete]").Click();
        page.WaitForAssertion(() => Assert.Contains("No procedure scheduled", page.Markup), TimeSpan.FromSeconds(5));
        Assert.Empty(await store.ListAsync(new WorklistFilter(), CancellationToken.None));

        // A patient of the archive is offered by the start of the name or of the ID, whatever its case.
        await Services.GetRequiredService<IngestService>().StoreAsync(
            await File.ReadAllBytesAsync(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")), new IngestSource(IngestOrigin.WebUI));
        var found = Assert.Single(await store.FindPatientsAsync("compressed", CancellationToken.None));
        Assert.Equal("CompressedSamples^CT1", found.Name);
        Assert.Equal(found, Assert.Single(await store.FindPatientsAsync(found.Id[..3], CancellationToken.None)));
    }
}
