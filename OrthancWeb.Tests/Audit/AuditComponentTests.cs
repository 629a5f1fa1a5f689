using Bunit;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;
using AuditPage = OrthancWeb.Components.Pages.Audit;
using StudyPage = OrthancWeb.Components.Pages.Study;

namespace OrthancWeb.Tests.Audit;

/// <summary>bUnit: the Audit trail page (filters, paging, verify) and a study view through the UI, on the real services.</summary>
public sealed class AuditComponentTests : BunitContext, IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-bunit-audit-").FullName;

    public AuditComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        RealServices.Add(Services, _folder);
        AddAuthorization().SetAuthorized("admin").SetRoles(OrthancWeb.Security.Roles.Administrator)
            .SetPolicies(OrthancWeb.Security.Policies.View, OrthancWeb.Security.Policies.Modify, OrthancWeb.Security.Policies.Administer);
    }

    private AuditWriter Writer => Services.GetRequiredService<AuditWriter>();
    private IAuditTrail Trail => Services.GetRequiredService<IAuditTrail>();
    private AuditQueries Queries => Services.GetRequiredService<AuditQueries>();

    public async Task InitializeAsync()
    {
        // The pages run interactively on the server (ViewedPage asks, to record each view once); set once every
        // service is registered, since the renderer is one of them.
        Renderer.SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Server", isInteractive: true));
        await Writer.StartAsync(CancellationToken.None);
        await Services.GetRequiredService<IndexStartup>().RunAsync();
    }

    public new async Task DisposeAsync()
    {
        await Writer.StopAsync(CancellationToken.None);
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    [Fact]
    public async Task The_page_filters_by_user_pages_in_the_database_and_verifies()
    {
        for (var i = 0; i < 60; i++)
            Trail.Record(new AuditEvent(AuditActions.View, AuditOutcome.Success) { User = i % 3 == 0 ? "alice" : "bob", PatientId = "P" + i, Source = AuditSources.Ui });
        await Writer.FlushAsync();

        var page = Render<AuditPage>();
        page.WaitForAssertion(() => Assert.Contains("bob", page.Markup), TimeSpan.FromSeconds(10));
        Assert.Contains("1-50 of 60", page.Markup);

        var user = page.Find("[data-testid=audit-user]");
        (user.TagName == "INPUT" ? user : user.QuerySelector("input")!).Input("alice");
        page.Find("[data-testid=audit-search]").Click();
        page.WaitForAssertion(() => Assert.Contains("1-20 of 20", page.Markup), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(">bob<", page.Markup);

        page.Find("[data-testid=audit-verify]").Click();
        page.WaitForAssertion(() => Assert.Contains("The audit trail is intact", page.Find("[data-testid=audit-verification]").TextContent), TimeSpan.FromSeconds(10));

        // Reading the trail is on the trail too.
        await Writer.FlushAsync();
        Assert.True((await Queries.PageAsync(new AuditFilter { Action = AuditActions.AuditLogUsed }, 0, 10)).Total >= 2);
    }

    [Fact]
    public async Task A_study_view_in_the_UI_is_recorded_with_user_address_and_patient()
    {
        var path = Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm");
        var stored = await Services.GetRequiredService<IngestService>().StoreAsync(await File.ReadAllBytesAsync(path), new IngestSource(IngestOrigin.RestApi), default);
        var studyUid = DicomFile.Open(path).Dataset.GetString(DicomTags.StudyInstanceUID);

        // What CallerCircuitHandler enters for each event of the user's circuit.
        using (AuditActor.Enter(new AuditActor("admin", "10.20.30.40", AuditSources.Ui)))
        {
            var page = Render<StudyPage>(p => p.Add(s => s.Id, stored.StudyId!));
            page.WaitForAssertion(() => Assert.Contains("CompressedSamples^CT1", page.Markup), TimeSpan.FromSeconds(10));
        }
        await Writer.FlushAsync();
        var views = await Queries.PageAsync(new AuditFilter { Action = AuditActions.View, PatientId = "1CT1" }, 0, 10);
        var view = Assert.Single(views.Entries);
        Assert.Equal(("admin", "10.20.30.40", "UI"), (view.User, view.Address, view.Source));
        Assert.Equal(("Study", stored.StudyId, studyUid), (view.ResourceLevel, view.ResourceId, view.StudyInstanceUid));
    }
}
