using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Components;
using OrthancWeb.Export;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Networking;
using OrthancWeb.Routing;
using OrthancWeb.Security;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Security;

/// <summary>
/// Defence in depth: the services that change data check the caller's policy themselves, so a page or controller that
/// forgot its own check still cannot delete, send or reconfigure. The server's own work (no caller) always may.
/// </summary>
public sealed class CallerPolicyTests : IAsyncLifetime
{
    private RealServiceHost _host = null!;
    private ServiceProvider _services = null!;

    public async Task InitializeAsync() => _services = (_host = await RealServiceHost.StartAsync("ow-caller-")).Services;

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static ClaimsPrincipal User(string name, string role) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)], "test"));

    private async Task<IngestResult> StoreCtAsync() =>
        await _services.GetRequiredService<IngestService>().StoreAsync(
            File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")), new IngestSource(IngestOrigin.RestApi));

    [Fact]
    public async Task A_viewer_cannot_delete_or_protect_and_the_resource_stays()
    {
        var stored = await StoreCtAsync();
        var writer = _services.GetRequiredService<IndexWriter>();
        var queries = _services.GetRequiredService<IndexQueries>();
        using (Caller.Enter(User("val", Roles.Viewer)))
        {
            var denied = await Assert.ThrowsAsync<AccessDeniedException>(() => writer.DeleteAsync(stored.StudyId!, ResourceLevel.Study, default));
            Assert.Contains("val may not delete", denied.Message);
            await Assert.ThrowsAsync<AccessDeniedException>(() => writer.SetProtectedAsync(stored.PatientId!, true, default));
            await Assert.ThrowsAsync<AccessDeniedException>(() => StoreCtAsync());
        }
        Assert.NotNull(await queries.GetAsync(stored.StudyId!, ResourceLevel.Study, default));
        Assert.False((await queries.GetAsync(stored.PatientId!, ResourceLevel.Patient, default))!.IsProtected);

        using (Caller.Enter(User("cleo", Roles.Clinician)))
            Assert.True((await writer.DeleteAsync(stored.StudyId!, ResourceLevel.Study, default)).Found);
        Assert.Null(await queries.GetAsync(stored.StudyId!, ResourceLevel.Study, default));
    }

    [Fact]
    public async Task Sending_anonymizing_and_reconfiguring_need_their_policies_and_an_archive_only_viewing()
    {
        var stored = await StoreCtAsync();
        var jobs = _services.GetRequiredService<JobEngine>();
        var modalities = _services.GetRequiredService<ModalityRegistry>();
        var ward = new ModalityOptions { AET = "WARD", Host = "127.0.0.1", Port = 104 };
        using (Caller.Enter(User("val", Roles.Viewer)))
        {
            Assert.Throws<AccessDeniedException>(() => jobs.Submit(ModalityStoreJob.JobType, ModalityStoreJob.Content("ward", [stored.StudyId!])));
            await Assert.ThrowsAsync<AccessDeniedException>(() => _services.GetRequiredService<ModificationService>()
                .AnonymizeAsync(ResourceLevel.Study, stored.StudyId!, new(), keepSource: true, progress: null, default));
            await Assert.ThrowsAsync<AccessDeniedException>(() => _services.GetRequiredService<ModalityClient>().StoreAsync(ward, [stored.StudyId!], default));
            // Reading what one may download anyway is a viewer's right.
            var archive = jobs.Submit(ArchiveJob.JobType, ArchiveJob.Content([stored.StudyId!], media: false));
            Assert.NotNull(jobs.Get(archive.Id));
        }
        using (Caller.Enter(User("cleo", Roles.Clinician)))
        {
            await Assert.ThrowsAsync<AccessDeniedException>(() => modalities.SaveAsync("ward", ward, default));
            await Assert.ThrowsAsync<AccessDeniedException>(() => _services.GetRequiredService<RoutingRegistry>()
                .SaveAsync(new RoutingRule { Name = "r", ForwardTo = ["ward"] }, default));
        }
        Assert.DoesNotContain(modalities.All, m => m.Name == "ward");
        using (Caller.Enter(User("ada", Roles.Administrator)))
            await modalities.SaveAsync("ward", ward, default);
        Assert.Contains(modalities.All, m => m.Name == "ward");
        // The server's own work (a DICOM association, a job, a routing rule) runs with no caller and is not refused.
        Assert.Null(Caller.Current);
        await modalities.DeleteAsync("ward", default);
    }

    [Fact]
    public async Task An_anonymous_caller_may_change_nothing()
    {
        var stored = await StoreCtAsync();
        using (Caller.Enter(new ClaimsPrincipal(new ClaimsIdentity())))
            await Assert.ThrowsAsync<AccessDeniedException>(() => _services.GetRequiredService<IndexWriter>().DeleteAsync(stored.InstanceId!, ResourceLevel.Instance, default));
    }

    /// <summary>The signed-in user of a circuit, as the server's authentication state provider gives it.</summary>
    private sealed class SignedIn(ClaimsPrincipal user) : AuthenticationStateProvider
    {
        public override Task<AuthenticationState> GetAuthenticationStateAsync() => Task.FromResult(new AuthenticationState(user));
    }

    [Fact]
    public async Task Every_event_of_a_circuit_runs_on_behalf_of_its_user()
    {
        var handler = new CallerCircuitHandler(new SignedIn(User("val", Roles.Viewer)));
        ClaimsPrincipal? seen = null;
        Exception? refused = null;
        var activity = handler.CreateInboundActivityHandler(_ =>
        {
            seen = Caller.Current;
            refused = Record.Exception(() => Caller.Demand(Policies.Modify, "delete"));
            return Task.CompletedTask;
        });
        // The context (its circuit) is the framework's to make; the handler does not read it.
        await activity((CircuitInboundActivityContext)System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(typeof(CircuitInboundActivityContext)));
        Assert.Equal("val", seen?.Identity?.Name);
        Assert.IsType<AccessDeniedException>(refused);
        Assert.Null(Caller.Current); // nothing leaks out of the event
    }
}
