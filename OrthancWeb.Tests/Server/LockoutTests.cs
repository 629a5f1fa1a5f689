using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OrthancWeb.Audit;
using OrthancWeb.Hosting;
using OrthancWeb.Security;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Server;

/// <summary>
/// Issue 15.5: failed logins make the client's address wait, with a doubling delay, instead of locking the account
/// (which let anyone lock the administrator out); an unknown user takes as long to refuse as a known one; every
/// failure, wait and login is in the audit trail; a cached Basic credential goes with any change to its account.
/// </summary>
public sealed class LockoutTests(ITestOutputHelper output)
{
    /// <summary>An HTTP client whose connections leave from <paramref name="source"/> (any of 127/8 is this machine).</summary>
    private static HttpClient ClientFrom(IPAddress source, int port, string user, string password)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(IPAddress.Loopback, context.DnsEndPoint.Port, token);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch { socket.Dispose(); throw; }
            },
        };
        var client = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return client;
    }

    [Fact]
    public async Task Wrong_passwords_from_one_address_make_it_wait_but_never_lock_the_account_for_others()
    {
        var folder = Directory.CreateTempSubdirectory("ow-lockout-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync(folder);
            var attacker = IPAddress.Parse("127.0.0.2");
            using (var wrong = ClientFrom(attacker, server.HttpPort, "admin", "not-the-password"))
            {
                for (var i = 0; i < 5; i++)
                    Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/system")).StatusCode);
                // The sixth attempt is not even checked: the address waits, told for how long (RFC 6585).
                var throttled = await wrong.GetAsync("/system");
                Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
                Assert.NotNull(throttled.Headers.RetryAfter?.Delta);
                // A failure after each wait doubles it (1 s, 2 s, 4 s): the checks below then run inside a 4 s wait, which
                // a loaded machine does not outlast as it once outlasted the first second. Retry-After is rounded up.
                for (var i = 0; i < 2; i++)
                {
                    await Task.Delay(throttled.Headers.RetryAfter!.Delta!.Value);
                    Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/system")).StatusCode);
                    throttled = await wrong.GetAsync("/system");
                    Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
                }
            }
            // Even the right password waits, from that address...
            using (var rightFromAttacker = ClientFrom(attacker, server.HttpPort, "admin", ServerProcess.AdminPassword))
                Assert.Equal(HttpStatusCode.TooManyRequests, (await rightFromAttacker.GetAsync("/system")).StatusCode);
            // ...while the administrator at another address is not locked out, by Basic or by the login page.
            using var admin = server.CreateRestClient();
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/system")).StatusCode);
            using var browser = server.CreateClient();
            Assert.Equal("/", (await ServerProcess.LoginAsync(browser, "admin", ServerProcess.AdminPassword)).Headers.Location!.ToString());
        }
        finally
        {
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// User enumeration by timing: a wrong password for an unknown user costs the same password hash as for a real
    /// one. Medians of many alternated samples over HTTP Basic (before: 9 ms against 65 ms).
    /// </summary>
    [Fact]
    public async Task Unknown_and_known_users_are_refused_in_the_same_time()
    {
        var folder = Directory.CreateTempSubdirectory("ow-timing-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync(folder, env: new() { ["Security__LoginFailuresBeforeDelay"] = "100000" });
            using var known = server.CreateRestClient("admin", "not-the-password");
            using var unknown = server.CreateRestClient("nobody-here", "not-the-password");
            async Task<double> TimeAsync(HttpClient client)
            {
                var clock = Stopwatch.StartNew();
                Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/system")).StatusCode);
                return clock.Elapsed.TotalMilliseconds;
            }
            for (var i = 0; i < 3; i++) { await TimeAsync(known); await TimeAsync(unknown); } // warm-up
            // Pairs taken back to back, in alternating order, compared pair by pair: a machine busy with other work
            // slows both of a pair alike, where comparing two medians taken over different moments would not.
            var (knownTimes, differences) = (new List<double>(), new List<double>());
            for (var i = 0; i < 40; i++)
            {
                double k1, u1;
                if (i % 2 == 0) { k1 = await TimeAsync(known); u1 = await TimeAsync(unknown); }
                else { u1 = await TimeAsync(unknown); k1 = await TimeAsync(known); }
                knownTimes.Add(k1);
                differences.Add(u1 - k1);
            }
            static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
            var (k, d) = (Median(knownTimes), Median(differences));
            output.WriteLine($"median refusal: known user {k:0.0} ms, unknown user {k + d:0.0} ms (median difference within a pair {d:0.0} ms)");
            Assert.True(Math.Abs(d) < Math.Max(5, 0.15 * k), $"known user {k:0.0} ms, unknown user slower by {d:0.0} ms in the median pair");
        }
        finally
        {
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }

    /// <summary>A Basic credential verified (and cached) before a password change is refused right after it.</summary>
    [Fact]
    public async Task A_cached_Basic_credential_does_not_outlive_a_password_change()
    {
        var folder = Directory.CreateTempSubdirectory("ow-basic-cache-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync(folder);
            using var script = server.CreateRestClient();
            Assert.Equal(HttpStatusCode.OK, (await script.GetAsync("/system")).StatusCode); // verified, now cached
            using var browser = server.CreateClient();
            await ServerProcess.LoginAsync(browser, "admin", ServerProcess.AdminPassword);
            Assert.Equal("/account/password?done=true",
                (await ServerProcess.ChangePasswordAsync(browser, ServerProcess.AdminPassword, "Another-Pa55")).Headers.Location!.ToString());
            Assert.Equal(HttpStatusCode.Unauthorized, (await script.GetAsync("/system")).StatusCode);
            using var renewed = server.CreateRestClient("admin", "Another-Pa55");
            Assert.Equal(HttpStatusCode.OK, (await renewed.GetAsync("/system")).StatusCode);
        }
        finally
        {
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }

    /// <summary>The wait doubles from one second up to the maximum, on the server's clock, per address (IPv6 per /64).</summary>
    [Fact]
    public void The_wait_of_an_address_doubles_with_each_failure_and_ends_on_the_server_clock()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var throttle = new LoginThrottle(clock, Microsoft.Extensions.Options.Options.Create(new SecurityOptions { LoginFailuresBeforeDelay = 5, LoginMaximumDelay = 10 }));
        var attacker = IPAddress.Parse("192.0.2.7");
        for (var i = 1; i < 5; i++)
            Assert.Equal(TimeSpan.Zero, throttle.Failed(attacker).Delay);
        Assert.Equal(TimeSpan.FromSeconds(1), throttle.Failed(attacker).Delay);
        Assert.Equal(TimeSpan.FromSeconds(1), throttle.RetryAfter(attacker));
        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter(IPAddress.Parse("192.0.2.8")));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter(attacker));
        Assert.Equal(TimeSpan.FromSeconds(2), throttle.Failed(attacker).Delay);
        Assert.Equal(TimeSpan.FromSeconds(4), throttle.Failed(attacker).Delay);
        Assert.Equal(TimeSpan.FromSeconds(8), throttle.Failed(attacker).Delay);
        Assert.Equal(TimeSpan.FromSeconds(10), throttle.Failed(attacker).Delay); // the maximum
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(TimeSpan.FromSeconds(1), throttle.RetryAfter(attacker));
        throttle.Succeeded(attacker);
        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter(attacker));

        // IPv6: one host draws addresses from its /64; it waits as one.
        for (var i = 0; i < 5; i++) throttle.Failed(IPAddress.Parse($"2001:db8:1:2::{i + 1}"));
        Assert.True(throttle.RetryAfter(IPAddress.Parse("2001:db8:1:2::99")) > TimeSpan.Zero);
        Assert.Equal(TimeSpan.Zero, throttle.RetryAfter(IPAddress.Parse("2001:db8:1:3::1")));
    }

    /// <summary>The audit trail holds each failure, the start of a wait, the refusals during it, and the login.</summary>
    [Fact]
    public async Task Failures_waits_and_logins_are_in_the_audit_trail()
    {
        await using var host = await SecurityHost.StartAsync();
        var login = host.Scope.ServiceProvider.GetRequiredService<LoginService>();
        var address = IPAddress.Parse("192.0.2.9");
        for (var i = 0; i < 5; i++)
            Assert.Equal(LoginStatus.Invalid, (await login.CheckAsync("admin", "wrong", address, AuditSources.Rest, "HTTP Basic")).Status);
        Assert.Equal(LoginStatus.Throttled, (await login.CheckAsync("admin", ServerProcess.AdminPassword, address, AuditSources.Rest, "HTTP Basic")).Status);
        host.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(LoginStatus.Succeeded, (await login.CheckAsync("admin", ServerProcess.AdminPassword, address, AuditSources.Ui, "login page")).Status);

        var actions = host.Audit.Events.Select(e => e.Action).ToList();
        Assert.Equal(6, actions.Count(a => a == AuditActions.LoginFailed)); // five wrong, one refused while waiting
        var wait = Assert.Single(host.Audit.Events, e => e.Action == AuditActions.Lockout);
        Assert.Equal("192.0.2.9", wait.Address);
        Assert.Equal("admin", wait.User);
        Assert.Equal(AuditActions.Login, actions[^1]);
        Assert.All(host.Audit.Events, e => Assert.DoesNotContain(ServerProcess.AdminPassword, e.Details ?? "", StringComparison.Ordinal));
    }

    /// <summary>Deleting an account, changing its roles or locking it forgets its cached Basic credentials at once.</summary>
    [Fact]
    public async Task A_cached_Basic_credential_goes_with_a_deletion_a_role_change_or_a_lock()
    {
        await using var host = await SecurityHost.StartAsync();
        var users = host.Scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        var cache = host.Scope.ServiceProvider.GetRequiredService<BasicCredentialCache>();
        var principal = new ClaimsPrincipal(new ClaimsIdentity("Basic"));
        async Task<IdentityUser> NewUserAsync(string name)
        {
            var user = new IdentityUser(name);
            Assert.True((await users.CreateAsync(user, "Some-Pa55word")).Succeeded);
            Assert.True((await users.AddToRoleAsync(user, Roles.Clinician)).Succeeded);
            cache.Set(name, user.Id, principal);
            Assert.True(cache.TryGet(name, out _));
            return user;
        }

        var deleted = await NewUserAsync("deleted");
        await users.DeleteAsync(deleted);
        Assert.False(cache.TryGet("deleted", out _));

        var demoted = await NewUserAsync("demoted");
        var stamp = demoted.SecurityStamp;
        await users.RemoveFromRoleAsync(demoted, Roles.Clinician);
        Assert.False(cache.TryGet("demoted", out _));
        Assert.NotEqual(stamp, demoted.SecurityStamp); // signed-in browsers are checked again too

        var locked = await NewUserAsync("locked");
        await users.SetLockoutEndDateAsync(locked, host.Clock.GetUtcNow().AddDays(1));
        Assert.False(cache.TryGet("locked", out _));

        Assert.Contains(host.Audit.Events, e => e.Action == AuditActions.AccountChanged && e.Details == "user deleted: deleted");
        Assert.Contains(host.Audit.Events, e => e.Action == AuditActions.AccountChanged && e.Details == "user demoted: role Clinician taken away");
    }
}

/// <summary>An audit trail that keeps what it is given, to read back in tests.</summary>
public sealed class RecordingAuditTrail : IAuditTrail
{
    private readonly List<AuditEvent> _events = [];

    public IReadOnlyList<AuditEvent> Events { get { lock (_events) return [.. _events]; } }

    public void Record(AuditEvent auditEvent) { lock (_events) _events.Add(auditEvent); }
}

/// <summary>The security services as the server registers them, on their own database, a fake clock and a recording trail.</summary>
public sealed class SecurityHost : IAsyncDisposable
{
    private readonly string _folder;
    private readonly ServiceProvider _provider;

    private SecurityHost(string folder, ServiceProvider provider, AsyncServiceScope scope, FakeTimeProvider clock, RecordingAuditTrail audit) =>
        (_folder, _provider, Scope, Clock, Audit) = (folder, provider, scope, clock, audit);

    public AsyncServiceScope Scope { get; }
    public FakeTimeProvider Clock { get; }
    public RecordingAuditTrail Audit { get; }

    public static async Task<SecurityHost> StartAsync()
    {
        var folder = Directory.CreateTempSubdirectory("ow-security-").FullName;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var audit = new RecordingAuditTrail();
        var paths = new DataPaths(folder);
        paths.CreateAll();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Security:AdminPassword"] = ServerProcess.AdminPassword }).Build();
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(clock).AddSingleton<IAuditTrail>(audit)
            .AddSecurity(configuration, paths);
        var provider = services.BuildServiceProvider();
        var scope = provider.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<AdministratorSeeder>().SeedAsync();
        return new SecurityHost(folder, provider, scope, clock, audit);
    }

    public async ValueTask DisposeAsync()
    {
        await Scope.DisposeAsync();
        await _provider.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, true);
    }
}
