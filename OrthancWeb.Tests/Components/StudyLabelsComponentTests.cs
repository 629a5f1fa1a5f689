using Bunit;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Annotations;
using OrthancWeb.Components.Pages;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Components;

/// <summary>The studies grid's labels: chips on each row, a filter by label, and labelling a selection at once.</summary>
public sealed class StudyLabelsComponentTests : BunitContext, IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-bunit-labels-").FullName;

    public StudyLabelsComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        RealServices.Add(Services, _folder);
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
    public async Task A_selection_is_labelled_at_once_its_chips_filter_the_list_and_the_label_comes_off_again()
    {
        var ingest = Services.GetRequiredService<IngestService>();
        string? ctStudy = null;
        foreach (var name in new[] { "CT_small.dcm", "MR_small.dcm" })
        {
            var result = await ingest.StoreAsync(File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), name)), new IngestSource(IngestOrigin.WebUI));
            ctStudy ??= result.StudyId;
        }
        Render<MudBlazor.MudPopoverProvider>();
        var page = Render<Studies>();
        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("[data-testid=studies-grid] tbody tr").Count), TimeSpan.FromSeconds(10));

        // Select the CT study's row and label it through the bulk action.
        var ctRow = page.FindAll("[data-testid=studies-grid] tbody tr").Single(r => r.TextContent.Contains("CompressedSamples^CT1", StringComparison.Ordinal));
        ctRow.QuerySelector("input[type=checkbox]")!.Change(true);
        page.Find("[data-testid=bulk-label] input, input[data-testid=bulk-label]").Input("urgent");
        page.Find("[data-testid=bulk-label-add]").Click();
        page.WaitForAssertion(() => Assert.Equal("urgent", page.Find("[data-testid=study-label]").TextContent.Trim()), TimeSpan.FromSeconds(10));
        var labels = Services.GetRequiredService<LabelService>();
        Assert.Equal(["urgent"], await labels.ListAsync(ctStudy!, ResourceLevel.Study, CancellationToken.None));

        // A label of a wrong syntax is refused, and nothing changes.
        page.Find("[data-testid=bulk-label] input, input[data-testid=bulk-label]").Input("not valid!");
        page.Find("[data-testid=bulk-label-add]").Click();
        Assert.Equal(["urgent"], await labels.AllAsync(CancellationToken.None));

        // The chip filters the list by its label.
        page.Find("[data-testid=study-label]").Click();
        page.WaitForAssertion(() =>
        {
            Assert.Single(page.FindAll("[data-testid=studies-grid] tbody tr"));
            Assert.DoesNotContain("CompressedSamples^MR1", page.Markup);
        }, TimeSpan.FromSeconds(10));

        // And the bulk action takes it off again: the filtered list empties.
        page.Find("[data-testid=studies-grid] tbody tr input[type=checkbox]").Change(true);
        page.Find("[data-testid=bulk-label] input, input[data-testid=bulk-label]").Input("urgent");
        page.Find("[data-testid=bulk-label-remove]").Click();
        page.WaitForAssertion(() => Assert.Empty(page.FindAll("[data-testid=study-label]")), TimeSpan.FromSeconds(10));
        Assert.Empty(await labels.ListAsync(ctStudy!, ResourceLevel.Study, CancellationToken.None) ?? ["missing"]);
    }
}
