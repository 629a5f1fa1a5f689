using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Security;

/// <summary>
/// Issue 15.3, 15.10 and 15.14 against a real server: plain HTTP for local scripts only, the UI and the login over
/// HTTPS only, a cookie that never travels in cleartext, cookie writes from other sites refused, and the headers that
/// keep pages out of frames and sniffing.
/// </summary>
public sealed class WebTransportTests : IClassFixture<RestServerFixture>
{
    private readonly RestServerFixture _fixture;

    public WebTransportTests(RestServerFixture fixture) => _fixture = fixture;

    private ServerProcess Server => _fixture.Server;

    /// <summary>An address of this machine that is not loopback, as another host on the network would reach it.</summary>
    private static IPAddress NetworkAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
        ?? throw new InvalidOperationException("this test needs a network interface besides loopback");

    private static async Task<bool> ConnectsAsync(IPAddress address, int port)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(address, port).WaitAsync(TimeSpan.FromSeconds(10));
            return true;
        }
        catch (SocketException) { return false; }
    }

    [Fact]
    public async Task HTTPS_speaks_HTTP_1_1_unless_HTTP_2_is_turned_on()
    {
        // Browser uploads went faster over HTTP/1.1's six connections than over one HTTP/2 connection (README), so
        // HTTP/2 is offered only when an administrator asks for it; a client that offers both gets HTTP/1.1.
        static async Task<Version> VersionAsync(ServerProcess server)
        {
            using var client = server.CreateClient();
            using var request = new HttpRequestMessage(HttpMethod.Get, "/account/login") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
            using var response = await client.SendAsync(request);
            Assert.True(response.IsSuccessStatusCode, $"status {(int)response.StatusCode}");
            return response.Version;
        }
        Assert.Equal(HttpVersion.Version11, await VersionAsync(Server));
        var folder = Directory.CreateTempSubdirectory("ow-h2-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync(folder, env: new Dictionary<string, string> { ["OrthancWeb__HttpsHttp2"] = "true" });
            Assert.Equal(HttpVersion.Version20, await VersionAsync(server));
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task With_remote_access_the_HTTPS_port_is_open_to_the_network_but_plain_HTTP_stays_on_loopback_unless_opened_with_a_warning()
    {
        var address = NetworkAddress();
        var remote = new Dictionary<string, string> { ["OrthancWeb__RemoteAccessAllowed"] = "true" };
        var folder = Directory.CreateTempSubdirectory("ow-listen-").FullName;
        try
        {
            await using (var server = await ServerProcess.StartAsync(folder, env: remote))
            {
                Assert.True(await ConnectsAsync(address, server.HttpsPort));
                Assert.False(await ConnectsAsync(address, server.HttpPort), $"HTTP port open on {address}");
                Assert.True(await ConnectsAsync(IPAddress.Loopback, server.HttpPort));
                Assert.DoesNotContain("HttpRemoteAccessAllowed", server.Log, StringComparison.Ordinal);
            }
            remote["OrthancWeb__HttpRemoteAccessAllowed"] = "true";
            await using (var server = await ServerProcess.StartAsync(folder, env: remote, keepPorts: true))
            {
                Assert.True(await ConnectsAsync(address, server.HttpPort));
                Assert.Contains("open to other hosts (HttpRemoteAccessAllowed)", server.Log, StringComparison.Ordinal);
            }
        }
        finally
        {
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/account/login?returnUrl=%2Fui%2Fstudies")]
    [InlineData("/ui/studies")]
    [InlineData("/_blazor?id=x")]
    public async Task A_browser_on_the_HTTP_port_is_sent_to_HTTPS(string path)
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri($"http://127.0.0.1:{Server.HttpPort}") };
        client.DefaultRequestHeaders.Accept.ParseAdd("text/html");
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.Equal($"https://127.0.0.1:{Server.HttpsPort}{path}", response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task A_login_posted_over_HTTP_is_refused_and_scripts_keep_HTTP_with_Basic()
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Server.HttpPort}") };
        var login = await client.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["userName"] = "admin", ["password"] = ServerProcess.AdminPassword,
        }));
        Assert.Equal(HttpStatusCode.Forbidden, login.StatusCode);
        Assert.Contains("HTTPS only", await login.Content.ReadAsStringAsync());
        Assert.False(login.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith(".OrthancWeb", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.OK, (await _fixture.Client.GetAsync("/system")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _fixture.Client.PostAsync("/tools/lookup", new StringContent("1.2.3"))).StatusCode);
    }

    [Fact]
    public async Task The_login_cookie_is_Secure_HttpOnly_and_SameSite()
    {
        using var client = Server.CreateClient();
        var login = await ServerProcess.LoginAsync(client, "admin", ServerProcess.AdminPassword);
        Assert.Equal("/", login.Headers.Location!.ToString());
        var cookie = Assert.Single(login.Headers.GetValues("Set-Cookie"), c => c.StartsWith($".OrthancWeb.{Server.HttpsPort}=", StringComparison.Ordinal));
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task HTTPS_answers_carry_HSTS_and_every_answer_the_framing_sniffing_and_content_policies()
    {
        using var client = Server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/account/login");
        request.Headers.Host = $"pacs.hospital.example:{Server.HttpsPort}";
        var page = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("max-age=31536000", Assert.Single(page.Headers.GetValues("Strict-Transport-Security")));
        Assert.Equal("DENY", Assert.Single(page.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("nosniff", Assert.Single(page.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("same-origin", Assert.Single(page.Headers.GetValues("Referrer-Policy")));
        var csp = Assert.Single(page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains("script-src 'self' 'nonce-", csp);
        Assert.DoesNotContain("unsafe-eval", csp);

        // Plain HTTP cannot ask for HTTPS-only (RFC 6797 7.2), and loopback names never get it (every port of "localhost").
        var script = await _fixture.Client.GetAsync("/system");
        Assert.False(script.Headers.Contains("Strict-Transport-Security"));
        Assert.Equal("nosniff", Assert.Single(script.Headers.GetValues("X-Content-Type-Options")));
        Assert.False((await client.GetAsync("/account/login")).Headers.Contains("Strict-Transport-Security"));
    }

    /// <summary>
    /// A page on another site makes the browser post text/plain (no CORS preflight) with the login cookie: refused.
    /// The same from our own page (its Origin) works, and Basic scripts need no Origin at all.
    /// </summary>
    [Fact]
    public async Task A_cookie_authenticated_write_from_another_origin_is_refused()
    {
        using var client = Server.CreateClient();
        Assert.Equal("/", (await ServerProcess.LoginAsync(client, "admin", ServerProcess.AdminPassword)).Headers.Location!.ToString());
        async Task<HttpStatusCode> PostAsync(string? origin, string? referer = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/tools/lookup") { Content = new StringContent("1.2.3") };
            request.Headers.Accept.Clear();
            if (origin is not null) request.Headers.Add("Origin", origin);
            if (referer is not null) request.Headers.Referrer = new Uri(referer);
            return (await client.SendAsync(request)).StatusCode;
        }
        var own = $"https://localhost:{Server.HttpsPort}";
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync("https://evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync($"https://localhost:{Server.HttpsPort + 1}"));
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync("null"));
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync(null));
        Assert.Equal(HttpStatusCode.Forbidden, await PostAsync(null, "https://evil.example/page"));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(own));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(null, own + "/ui/studies"));
        // Reading stays open (it changes nothing; Lax keeps the cookie off other sites' subrequests anyway).
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/system")).StatusCode);
        // HTTP Basic, which a foreign page cannot make a browser send, needs no Origin.
        using var https = Server.CreateClient();
        https.DefaultRequestHeaders.Accept.Clear();
        https.DefaultRequestHeaders.Authorization = _fixture.Client.DefaultRequestHeaders.Authorization;
        Assert.Equal(HttpStatusCode.OK, (await https.PostAsync("/tools/lookup", new StringContent("1.2.3"))).StatusCode);
    }
}
