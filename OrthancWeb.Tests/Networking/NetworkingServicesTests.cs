using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrthancWeb.Api;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;
using OrthancWeb.Networking;
using OrthancWeb.Security;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Networking;

/// <summary>The networking services in process: the policy's host and AE rules, /queries' bound, roles, and the audit of associations.</summary>
public sealed class NetworkingServicesTests
{
    private static DicomOptions Options(int port = 0) => new()
    {
        DicomAet = "OWAUDIT",
        DicomPort = port,
        DicomModalities = new(StringComparer.OrdinalIgnoreCase)
        {
            ["local"] = new ModalityOptions { AET = "LOCALSCU", Host = "127.0.0.1", Port = 1 },
            ["named"] = new ModalityOptions { AET = "NAMEDSCU", Host = "localhost", Port = 1 },
            ["faraway"] = new ModalityOptions { AET = "FARAWAY", Host = "192.0.2.10", Port = 104 },
            ["v6"] = new ModalityOptions { AET = "SIXSCU", Host = "2001:db8::7", Port = 104 },
        },
    };

    private static readonly IPAddress Loopback = IPAddress.Loopback;

    [Fact]
    public async Task A_peer_is_its_modality_only_from_the_modalitys_host()
    {
        var dicom = Options();
        await using var host = await RealServiceHost.StartAsync("ow-policy-", dicom);
        var policy = host.Get<DicomPolicy>();
        Assert.NotNull(policy.FindPeer("LOCALSCU", Loopback));
        Assert.NotNull(policy.FindPeer("NAMEDSCU", Loopback)); // "localhost"
        Assert.NotNull(policy.FindPeer("NAMEDSCU", IPAddress.IPv6Loopback));
        Assert.Null(policy.FindPeer("FARAWAY", Loopback));
        Assert.NotNull(policy.FindPeer("FARAWAY", IPAddress.Parse("192.0.2.10")));
        Assert.NotNull(policy.FindPeer("FARAWAY", IPAddress.Parse("192.0.2.10").MapToIPv6())); // a dual-stack listener's form
        Assert.Null(policy.FindPeer("FARAWAY", IPAddress.Parse("192.0.2.11")));
        Assert.Null(policy.FindPeer("LOCALSCU", IPAddress.Parse("192.0.2.10"))); // a loopback Host is no one else
        Assert.NotNull(policy.FindPeer("SIXSCU", IPAddress.Parse("2001:db8::7")));
        // A name that resolves to a loopback address (Debian maps the machine's own name so) does not make local processes that modality.
        Assert.False(policy.HostMatches(Dns.GetHostName(), Loopback));
        Assert.False(policy.HostMatches("no-such-host.invalid", IPAddress.Parse("192.0.2.10")));

        // Titles compare case-insensitively unless StrictAetComparison; the host check can be turned off (Orthanc's default).
        Assert.NotNull(policy.FindPeer("localscu", Loopback));
        dicom.StrictAetComparison = true;
        Assert.Null(policy.FindPeer("localscu", Loopback));
        Assert.NotNull(policy.FindPeer("LOCALSCU", Loopback));
        dicom.DicomCheckModalityHost = false;
        Assert.NotNull(policy.FindPeer("FARAWAY", Loopback));
    }

    [Fact]
    public void Query_results_keep_the_most_recently_used()
    {
        var capacity = 3;
        var results = new QueryResults(() => capacity);
        ModalityQuery Query(string id) => new(id, "m", ResourceLevel.Study, new DicomDataset(), []);
        foreach (var id in new[] { "a", "b", "c" }) results.Add(Query(id));
        Assert.NotNull(results.Get("a")); // a is now the most recently used
        results.Add(Query("d"));
        Assert.Null(results.Get("b"));
        Assert.Equal(["d", "a", "c"], results.Ids);
        capacity = 1;
        results.Add(Query("e"));
        Assert.Equal(["e"], results.Ids);
    }

    [Fact]
    public async Task The_server_keeps_at_most_QueryRetrieveSize_queries()
    {
        var qr = ServerProcess.FreePort();
        var folder = Directory.CreateTempSubdirectory("ow-queries-").FullName;
        try
        {
            // Our own DICOM port as the queried modality: C-FIND against ourselves.
            await using var server = await ServerProcess.StartAsync(folder, $$"""
                , "DicomPort": {{qr}}, "DicomAet": "SELF", "QueryRetrieveSize": 2,
                "DicomModalities": { "self": { "AET": "SELF", "Host": "127.0.0.1", "Port": {{qr}} } }
                """);
            using var rest = server.CreateRestClient();
            var ids = new List<string>();
            for (var i = 0; i < 3; i++)
                ids.Add((await PostJsonAsync(rest, "/modalities/self/query", new { Level = "Study", Query = new { PatientID = "*" } }))["ID"]!.GetValue<string>());
            var kept = (await GetJsonAsync(rest, "/queries")).AsArray().Select(n => n!.GetValue<string>()).ToHashSet();
            Assert.Equal(new HashSet<string> { ids[1], ids[2] }, kept);
            Assert.Equal(HttpStatusCode.NotFound, (await rest.GetAsync($"/queries/{ids[0]}/answers")).StatusCode);
        }
        finally { try { Directory.Delete(folder, true); } catch (IOException) { } }
    }

    private static ClaimsPrincipal User(string role) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, "val"), new Claim(ClaimTypes.Role, role)], "test"));

    [Fact]
    public async Task Echo_query_and_query_results_need_the_Modify_role_in_the_service_and_on_the_routes()
    {
        await using var host = await RealServiceHost.StartAsync("ow-roles-", Options());
        var client = host.Get<ModalityClient>();
        var qr = host.Get<QueryRetrieveService>();
        var m = client.Find("faraway")!;
        using (Caller.Enter(User(Roles.Viewer)))
        {
            await Assert.ThrowsAsync<AccessDeniedException>(() => client.EchoAsync(m, CancellationToken.None));
            await Assert.ThrowsAsync<AccessDeniedException>(() => qr.QueryAsync("faraway", ResourceLevel.Study, new DicomDataset(), CancellationToken.None));
            Assert.Throws<AccessDeniedException>(() => qr.Get("x"));
        }
        foreach (var action in new[] { "Echo", "Query", "Move", "Get", "Store" })
        {
            var method = typeof(ModalitiesController).GetMethod(action)!;
            Assert.Contains(method.GetCustomAttributes<AuthorizeAttribute>(), a => a.Policy == Policies.Modify);
        }
        // Every /queries route: the controller as a whole.
        Assert.Contains(typeof(QueriesController).GetCustomAttributes<AuthorizeAttribute>(), a => a.Policy == Policies.Modify);
    }

    /// <summary>What the trail is asked to record, and the ambient actor at that moment (the trail's store is another part's).</summary>
    private sealed class RecordingTrail : IAuditTrail
    {
        public ConcurrentQueue<(AuditEvent Event, AuditActor? Actor)> Events { get; } = new();
        public void Record(AuditEvent auditEvent) => Events.Enqueue((auditEvent, AuditActor.Current));
    }

    private static async Task<(AuditEvent Event, AuditActor? Actor)> WaitForAsync(RecordingTrail trail, Func<AuditEvent, bool> match, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            foreach (var e in trail.Events) if (match(e.Event)) return e;
            await Task.Delay(20);
        }
        throw new Xunit.Sdk.XunitException($"no {what} in the audit trail: " + string.Join("; ", trail.Events.Select(e => $"{e.Event.Action} {e.Event.User} {e.Event.Details}")));
    }

    [Fact]
    public async Task Every_association_and_its_operations_are_audited_with_the_peer_as_actor()
    {
        var port = ServerProcess.FreePort();
        var dicom = Options(port);
        dicom.DicomCheckCalledAet = true;
        dicom.DicomModalities["local"].AllowGet = true;
        var folder = Directory.CreateTempSubdirectory("ow-dicomaudit-").FullName;
        var trail = new RecordingTrail();
        var services = new ServiceCollection();
        RealServices.Add(services, folder, dicom);
        services.AddSingleton<IOptions<DicomOptions>>(Microsoft.Extensions.Options.Options.Create(dicom));
        services.AddSingleton<IAuditTrail>(trail);
        await using var provider = services.BuildServiceProvider();
        try
        {
            await provider.GetRequiredService<IndexStartup>().RunAsync();
            var dicomHost = provider.GetRequiredService<DicomHost>();
            await dicomHost.StartAsync(CancellationToken.None);
            var p = port.ToString(CultureInfo.InvariantCulture);

            var store = Peers.Run("storescu", "-aet", "LOCALSCU", "-aec", "OWAUDIT", "127.0.0.1", p, Sample("CT_small.dcm"));
            Assert.True(store.ExitCode == 0, store.Stderr);
            var association = await WaitForAsync(trail, e => e.Action == AuditActions.Association && e.User == "LOCALSCU", "association");
            Assert.Equal("127.0.0.1", association.Event.Address);
            Assert.Equal(AuditSources.Dicom, association.Event.Source);
            var stored = await WaitForAsync(trail, e => e.Action == AuditActions.CStore, "C-STORE");
            Assert.Equal(AuditOutcome.Success, stored.Event.Outcome);
            Assert.NotNull(stored.Event.ResourceId);
            Assert.Equal(new AuditActor("LOCALSCU", "127.0.0.1", AuditSources.Dicom), stored.Actor);
            var sample = DicomFile.Open(Sample("CT_small.dcm")).Dataset;
            Assert.Equal(sample.GetString(DicomTags.PatientID), stored.Event.PatientId);
            Assert.Equal(sample.GetString(DicomTags.StudyInstanceUID), stored.Event.StudyInstanceUid);

            var patientId = sample.GetString(DicomTags.PatientID)!;
            var find = Peers.Run("findscu", "-S", "-aet", "LOCALSCU", "-aec", "OWAUDIT", "-k", "QueryRetrieveLevel=STUDY", "-k", $"PatientID={patientId}", "127.0.0.1", p);
            Assert.True(find.ExitCode == 0, find.Stderr);
            var found = await WaitForAsync(trail, e => e.Action == AuditActions.CFind, "C-FIND");
            Assert.Equal(patientId, found.Event.PatientId);
            Assert.Equal("LOCALSCU", found.Actor?.User);

            // A C-GET is recorded once its instances have gone back to the caller, with how many arrived.
            var study = sample.GetString(DicomTags.StudyInstanceUID)!;
            var got = Peers.Run("getscu", "-S", "-aet", "LOCALSCU", "-aec", "OWAUDIT", "-od", Directory.CreateDirectory(Path.Combine(folder, "got")).FullName,
                "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={study}", "127.0.0.1", p);
            Assert.True(got.ExitCode == 0, got.Stderr);
            var get = await WaitForAsync(trail, e => e.Action == AuditActions.CGet, "C-GET");
            Assert.Equal(AuditOutcome.Success, get.Event.Outcome);
            Assert.Equal(study, get.Event.StudyInstanceUid);
            Assert.Contains("to LOCALSCU: 1 sent, 0 failed", get.Event.Details, StringComparison.Ordinal);
            // A C-MOVE whose destination cannot be reached is recorded as failed, naming the destination.
            Peers.Run("movescu", "-S", "-aet", "LOCALSCU", "-aec", "OWAUDIT", "-aem", "LOCALSCU",
                "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={study}", "127.0.0.1", p);
            var moved = await WaitForAsync(trail, e => e.Action == AuditActions.CMove, "C-MOVE");
            Assert.Equal(AuditOutcome.SeriousFailure, moved.Event.Outcome);
            Assert.Contains("to LOCALSCU: 0 sent, 1 failed", moved.Event.Details, StringComparison.Ordinal);
            Assert.Contains("Destination unreachable", moved.Event.Details, StringComparison.Ordinal);

            var refused = Peers.Run("echoscu", "-aet", "NOSY", "-aec", "SOMEONEELSE", "127.0.0.1", p);
            Assert.NotEqual(0, refused.ExitCode);
            var rejected = await WaitForAsync(trail, e => e.Action == AuditActions.AssociationRejected && e.User == "NOSY", "rejected association");
            Assert.Equal("127.0.0.1", rejected.Event.Address);
            Assert.Contains("called AE", rejected.Event.Details, StringComparison.OrdinalIgnoreCase);
            Assert.Null(AuditActor.Current); // the association's actor stayed in the association's own flow
            await dicomHost.StopAsync(CancellationToken.None);
        }
        finally { try { Directory.Delete(folder, true); } catch (IOException) { } }
    }
}
