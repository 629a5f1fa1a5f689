using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Rendering;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Components.Layout;
using OrthancWeb.Components.Pages;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Networking;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Failures;

/// <summary>
/// Every UI action that talks to a modality, against peers that fail as modalities do (nothing listening, an
/// association rejected by DCMTK, a silent peer, an abort): the page says why, and the next click works.
/// </summary>
public sealed class PeerFailureComponentTests : BunitContext, IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-bunit-failures-").FullName;
    private readonly FailingPeers _peers = new();

    public PeerFailureComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        // Four seconds for a peer to answer (Orthanc's DicomScuTimeout): the silent case stays quick, and a working peer
        // starved of CPU on a loaded 2-core machine still answers in time (1 s was missed there).
        RealServices.Add(Services, _folder, new DicomOptions { DicomScuTimeout = 4 });
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
        var registry = Services.GetRequiredService<ModalityRegistry>();
        foreach (var failure in Enum.GetValues<PeerFailure>())
        {
            var (aet, port) = await _peers.StartAsync(failure);
            await registry.SaveAsync(failure.ToString().ToLowerInvariant(), new ModalityOptions { AET = aet, Host = "127.0.0.1", Port = port }, default);
        }
        var (okAet, okPort) = await _peers.StartWorkingAsync();
        await registry.SaveAsync("working", new ModalityOptions { AET = okAet, Host = "127.0.0.1", Port = okPort }, default);
    }

    public new async Task DisposeAsync()
    {
        await Services.GetRequiredService<JobEngine>().StopAsync(CancellationToken.None);
        await base.DisposeAsync();
        await _peers.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    /// <summary>What the user is told for each kind of failure.</summary>
    public static TheoryData<PeerFailure, string> EchoFailures => new()
    {
        { PeerFailure.Down, "cannot connect to 127.0.0.1" },
        { PeerFailure.Rejects, "association rejected" },
        { PeerFailure.Silent, "no answer to the association request after 4 s" },
        { PeerFailure.Aborts, "the peer aborted the association" },
    };

    [Theory]
    [MemberData(nameof(EchoFailures))]
    public void Modalities_page_echo_says_why_the_peer_failed_and_the_next_echo_works(PeerFailure failure, string reason)
    {
        Render<MudBlazor.MudPopoverProvider>();
        var snackbars = Render<MudBlazor.MudSnackbarProvider>();
        var page = Render<Modalities>();
        var name = failure.ToString().ToLowerInvariant();

        EchoButton(page, name).Click();
        snackbars.WaitForAssertion(() => Assert.Contains($"C-ECHO to {name} failed", snackbars.Markup), TimeSpan.FromSeconds(15));
        Assert.Contains(reason, snackbars.Markup);

        // The page goes on: the button is back, and another echo reaches a peer that answers.
        page.WaitForAssertion(() => Assert.False(EchoButton(page, name).HasAttribute("disabled")), TimeSpan.FromSeconds(5));
        EchoButton(page, "working").Click();
        snackbars.WaitForAssertion(() => Assert.Contains("C-ECHO to working succeeded", snackbars.Markup), TimeSpan.FromSeconds(15));
    }

    [Theory]
    [MemberData(nameof(EchoFailures))]
    public async Task Send_dialog_echo_says_why_the_peer_failed_and_the_next_echo_works(PeerFailure failure, string reason)
    {
        var stored = await StoreAsync("CT_small.dcm");
        var dialogs = OpenSendDialog(stored.StudyId!);

        Choose(dialogs, failure.ToString().ToLowerInvariant());
        dialogs.Find("[data-testid=echo]").Click();
        dialogs.WaitForAssertion(() => Assert.Contains("C-ECHO failed", dialogs.Find("[data-testid=echo-result]").TextContent), TimeSpan.FromSeconds(15));
        Assert.Contains(reason, dialogs.Find("[data-testid=echo-result]").TextContent);

        Choose(dialogs, "working");
        dialogs.WaitForAssertion(() => Assert.False(dialogs.Find("[data-testid=echo]").HasAttribute("disabled")), TimeSpan.FromSeconds(5));
        dialogs.Find("[data-testid=echo]").Click();
        dialogs.WaitForAssertion(() => Assert.Equal("C-ECHO succeeded", dialogs.Find("[data-testid=echo-result]").TextContent), TimeSpan.FromSeconds(15));
    }

    [Theory]
    [InlineData(PeerFailure.Rejects, "association rejected")]
    [InlineData(PeerFailure.AbortsOnStore, "aborted the association")]
    public async Task Send_to_a_failing_peer_becomes_a_job_that_says_why_on_the_jobs_page(PeerFailure failure, string reason)
    {
        var stored = await StoreAsync("MR_small.dcm");
        var name = failure.ToString().ToLowerInvariant();
        var dialogs = OpenSendDialog(stored.StudyId!);
        Choose(dialogs, name);
        dialogs.Find("[data-testid=send-submit]").Click();

        var jobs = Render<OrthancWeb.Components.Pages.Jobs>();
        // The page refreshes on its own while the engine fills in the failure: wait for the state and the reason together.
        jobs.WaitForAssertion(() =>
        {
            Assert.Contains("Retry", jobs.Find("[data-testid=job-state]").TextContent);
            Assert.Contains(reason, jobs.Markup);
        }, TimeSpan.FromSeconds(15));
        var job = Services.GetRequiredService<JobEngine>().List().Single(j => j.Type == ModalityStoreJob.JobType);
        Assert.Contains(reason, job.ErrorDetails);
        jobs.Find("[data-testid=job-cancel]").Click();
        jobs.WaitForAssertion(() => Assert.Contains("Failure", jobs.Find("[data-testid=job-state]").TextContent), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Send_with_storage_commitment_to_a_peer_without_it_fails_the_job_and_says_why()
    {
        // DCMTK's storescp stores, but has no Storage Commitment Push Model: the C-STOREs go, the commitment cannot be asked.
        var stored = await StoreAsync("CT_small.dcm");
        var dialogs = OpenSendDialog(stored.StudyId!);
        Choose(dialogs, "working");
        dialogs.WaitForAssertion(() => dialogs.Find("[data-testid=send-storage-commitment] input, input[data-testid=send-storage-commitment]"), TimeSpan.FromSeconds(5));
        dialogs.Find("[data-testid=send-storage-commitment] input, input[data-testid=send-storage-commitment]").Change(true);
        dialogs.Find("[data-testid=send-submit]").Click();

        var engine = Services.GetRequiredService<JobEngine>();
        var job = engine.List().Single(j => j.Type == ModalityStoreJob.JobType);
        Assert.True(job.ContentAs<ModalityStoreParameters>().StorageCommitment);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (job.State is not (JobState.Retry or JobState.Failure))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"job still {job.State}");
            await Task.Delay(50);
        }
        Assert.Contains("does not accept storage commitment requests", job.ErrorDetails);
        Assert.Equal(0, job.Result!["FailedInstancesCount"]!.GetValue<int>());
        Assert.Equal("Failure", job.Result!["StorageCommitmentReport"]!["Status"]!.GetValue<string>());
        engine.Cancel(job.Id);
    }

    [Fact]
    public void A_failure_nobody_caught_is_shown_in_the_layout_and_the_page_starts_again()
    {
        SetRendererInfo(new RendererInfo("Server", isInteractive: true));
        var clicks = 0;
        RenderFragment body = b =>
        {
            b.OpenComponent<Throwing>(0);
            b.AddAttribute(1, nameof(Throwing.OnClicked), (Action)(() => clicks++));
            b.CloseComponent();
        };
        var layout = Render<MainLayout>(p => p.Add(l => l.Body, body));
        layout.Find("[data-testid=throw]").Click();
        layout.WaitForAssertion(() => Assert.Contains("This page stopped: unexpected InvalidOperationException: a bug in a page", layout.Find("[data-testid=page-failure]").TextContent));
        Assert.Empty(layout.FindAll("[data-testid=throw]"));

        layout.Find("[data-testid=page-recover]").Click();
        layout.WaitForAssertion(() => Assert.Empty(layout.FindAll("[data-testid=page-failure]")));
        layout.Find("[data-testid=throw]").Click(); // the circuit lives: the page answers again, and fails again the same way
        Assert.Equal(2, clicks);
        layout.WaitForAssertion(() => Assert.NotEmpty(layout.FindAll("[data-testid=page-failure]")));
    }

    /// <summary>A page whose button fails with an exception no handler expected.</summary>
    private sealed class Throwing : ComponentBase
    {
        [Parameter] public Action OnClicked { get; set; } = () => { };

        protected override void BuildRenderTree(RenderTreeBuilder builder)
        {
            builder.OpenElement(0, "button");
            builder.AddAttribute(1, "data-testid", "throw");
            builder.AddAttribute(2, "onclick", EventCallback.Factory.Create(this, () =>
            {
                OnClicked();
                throw new InvalidOperationException("a bug in a page");
            }));
            builder.CloseElement();
        }
    }

    private async Task<IngestResult> StoreAsync(string name) =>
        await Services.GetRequiredService<IngestService>().StoreAsync(File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), name)), new IngestSource(IngestOrigin.WebUI));

    private static AngleSharp.Dom.IElement EchoButton(IRenderedComponent<Modalities> page, string name) =>
        page.FindAll("tr").First(r => r.QuerySelector("td")?.TextContent == name).QuerySelector("[data-testid=modality-echo]")!;

    private IRenderedComponent<MudBlazor.MudPopoverProvider>? _popovers;

    /// <summary>The study page's Send… dialog, opened as a user would.</summary>
    private IRenderedComponent<MudBlazor.MudDialogProvider> OpenSendDialog(string studyId)
    {
        _popovers = Render<MudBlazor.MudPopoverProvider>();
        var dialogs = Render<MudBlazor.MudDialogProvider>();
        var page = Render<Study>(p => p.Add(s => s.Id, studyId));
        page.WaitForAssertion(() => page.Find("[data-testid=send]"), TimeSpan.FromSeconds(10));
        page.Find("[data-testid=send]").Click();
        dialogs.WaitForAssertion(() => dialogs.Find("[data-testid=send-dialog]"), TimeSpan.FromSeconds(5));
        return dialogs;
    }

    /// <summary>Picks a destination in the dialog's select: open its list, click the item (rendered by the popover provider).</summary>
    private void Choose(IRenderedComponent<MudBlazor.MudDialogProvider> dialogs, string modality)
    {
        dialogs.Find("[data-testid=send-dialog] .mud-select .mud-input-control").MouseDown();
        AngleSharp.Dom.IElement Item() => _popovers!.FindAll(".mud-list-item").First(i => i.TextContent.StartsWith(modality + " (", StringComparison.Ordinal));
        _popovers!.WaitForAssertion(() => Item(), TimeSpan.FromSeconds(5));
        Item().Click();
        dialogs.WaitForAssertion(() => Assert.Contains($"{modality} (", dialogs.Find("[data-testid=send-dialog] .mud-select").InnerHtml), TimeSpan.FromSeconds(5));
    }
}
