using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OrthancWeb.DicomWeb.Ohif;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.DicomWeb.Ohif;

/// <summary>One real server with the OHIF bundle the build fetched.</summary>
public sealed class OhifServerFixture : IAsyncLifetime
{
    private string _folder = "";
    public ServerProcess Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-ohif-host-").FullName;
        Server = await ServerProcess.StartAsync(_folder);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    /// <summary>A browser-like HTTPS client signed in as the administrator.</summary>
    public async Task<HttpClient> SignedInAsync()
    {
        var client = Server.CreateClient();
        var login = await ServerProcess.LoginAsync(client, "admin", ServerProcess.AdminPassword);
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        return client;
    }
}

/// <summary>
/// OHIF's hosting over real HTTP against the real server process and the bundle the build fetched (the build's
/// FetchOhif target; under CI=true a missing bundle fails here rather than skipping): the login in front of it, its
/// page rebased to /ohif/ with our nonce, its own Content-Security-Policy, the generated app-config.js (run by node),
/// its files and its client-side routes.
/// </summary>
public sealed class OhifHostingTests(OhifServerFixture fixture) : IClassFixture<OhifServerFixture>
{
    private ServerProcess Server => fixture.Server;

    [Fact]
    public void The_server_says_where_it_serves_OHIF_from()
    {
        Assert.Contains($"OHIF {OhifViewer.Version} is served under /ohif/ from ", Server.Log);
        Assert.DoesNotContain("OHIF is not available", Server.Log);
    }

    [Fact]
    public async Task An_anonymous_browser_is_sent_to_the_login_page_and_back()
    {
        using var client = Server.CreateClient();
        const string target = "/ohif/viewer?StudyInstanceUIDs=1.2.3.4";
        var anonymous = await client.GetAsync(target);
        Assert.Equal(HttpStatusCode.Redirect, anonymous.StatusCode);
        var location = anonymous.Headers.Location!.ToString();
        Assert.Contains("/account/login", location);
        Assert.Equal(target, Uri.UnescapeDataString(Regex.Match(location, "ReturnUrl=([^&]+)").Groups[1].Value));
        // Its files are not served without a login either (a script asking gets 401, not the login page).
        using var script = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true }) { BaseAddress = client.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await script.GetAsync("/ohif/app-config.js")).StatusCode);

        var login = await ServerProcess.LoginAsync(client, "admin", ServerProcess.AdminPassword, target);
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal(target, login.Headers.Location!.ToString());
        var page = await client.GetAsync(target);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<div id=\"root\">", await page.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/ohif")]
    [InlineData("/ohif/")]
    [InlineData("/ohif/viewer?StudyInstanceUIDs=1.2.840.113619.2.1")]
    [InlineData("/ohif/segmentation/deep/route")]
    public async Task OHIFs_routes_are_its_page_rebased_to_ohif_with_our_nonce_and_policy(string url)
    {
        using var client = await fixture.SignedInAsync();
        var response = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("window.PUBLIC_URL=\"/ohif/\"", html);
        Assert.DoesNotContain("window.PUBLIC_URL=\"/\"", html);
        Assert.Matches("<script defer=\"defer\" src=\"/ohif/app\\.bundle\\.[0-9a-f]+\\.js\"|<script defer src=\"/ohif/app\\.bundle\\.[0-9a-f]+\\.js\"", html);
        // Nothing is named from the site's root any more.
        Assert.Empty(Regex.Matches(html, "(href|src|content)=\"/(?!ohif/)"));

        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        var nonce = Regex.Match(csp, "'nonce-([^']+)'").Groups[1].Value;
        Assert.NotEmpty(nonce);
        // Every inline script carries this response's nonce; the rest come from this server.
        var scripts = Regex.Matches(html, "<script([^>]*)>").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(scripts);
        Assert.All(scripts, a => Assert.True(a.Contains($"nonce=\"{nonce}\"", StringComparison.Ordinal) || a.Contains("src=\"/ohif/", StringComparison.Ordinal), a));
        Assert.Equal(2, scripts.Count(a => a.Contains("nonce=", StringComparison.Ordinal)));
        Assert.Contains("'wasm-unsafe-eval'", csp);
        Assert.Contains("worker-src 'self' blob:", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.DoesNotContain("'unsafe-eval'", csp);
        Assert.DoesNotContain("script-src 'self' 'unsafe-inline'", csp);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        // No cross-origin isolation: OHIF 3.13 does not need it (see OhifRegistration.ContentSecurityPolicy).
        Assert.False(response.Headers.Contains("Cross-Origin-Embedder-Policy"));
    }

    [Fact]
    public async Task The_UI_keeps_its_own_stricter_policy()
    {
        using var client = await fixture.SignedInAsync();
        var ui = await client.GetAsync("/ui/studies");
        var csp = ui.Headers.GetValues("Content-Security-Policy").Single();
        Assert.DoesNotContain("wasm-unsafe-eval", csp);
        Assert.DoesNotContain("blob:", csp.Split(';').Single(d => d.Trim().StartsWith("script-src", StringComparison.Ordinal)));
        // A path that only starts with the same letters is not OHIF's.
        var other = await client.GetAsync("/ohifx");
        Assert.DoesNotContain("wasm-unsafe-eval", other.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task The_app_config_is_ours_one_DICOMweb_source_on_this_origin()
    {
        using var client = await fixture.SignedInAsync();
        var response = await client.GetAsync("/ohif/app-config.js");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType!.MediaType);
        var script = await response.Content.ReadAsStringAsync();
        // Run it as the page does (it assigns window.config), in node, and read back what OHIF will read.
        var file = Path.Combine(Path.GetTempPath(), $"ohif-app-config-{Guid.NewGuid():N}.js");
        await File.WriteAllTextAsync(file, script);
        try
        {
            var run = Peers.Run("node", "-e", $$"""
                globalThis.window = { location: { origin: 'https://pacs.example:8443' } };
                require({{System.Text.Json.JsonSerializer.Serialize(file)}});
                process.stdout.write(JSON.stringify(window.config));
                """);
            Assert.True(run.ExitCode == 0, run.Stderr);
            var config = JsonNode.Parse(run.Stdout)!;
            Assert.Equal("/ohif", (string?)config["routerBasename"]);
            Assert.True((bool)config["showStudyList"]!);
            var source = config["dataSources"]!.AsArray().Single()!;
            Assert.Equal((string?)config["defaultDataSourceName"], (string?)source["sourceName"]);
            Assert.Equal("@ohif/extension-default.dataSourcesModule.dicomweb", (string?)source["namespace"]);
            var c = source["configuration"]!;
            Assert.Equal("https://pacs.example:8443/dicom-web", (string?)c["qidoRoot"]);
            Assert.Equal("https://pacs.example:8443/dicom-web", (string?)c["wadoRoot"]);
            Assert.Equal("https://pacs.example:8443/wado", (string?)c["wadoUriRoot"]);
            Assert.Equal("OrthancWeb", (string?)c["friendlyName"]);
            Assert.Equal("wadors", (string?)c["imageRendering"]);
            Assert.Equal("wadors", (string?)c["thumbnailRendering"]);
            Assert.True((bool)c["supportsFuzzyMatching"]!);
            Assert.True((bool)c["qidoSupportsIncludeField"]!);
            Assert.False((bool)c["staticWado"]!);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public async Task Its_files_are_served_with_their_types_rebased_and_a_missing_one_is_a_404()
    {
        using var client = await fixture.SignedInAsync();
        var html = await client.GetStringAsync("/ohif/");
        var bundle = Regex.Match(html, "src=\"(/ohif/app\\.bundle\\.[0-9a-f]+\\.js)\"").Groups[1].Value;
        var response = await client.GetAsync(bundle);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("immutable", response.Headers.CacheControl!.ToString());
        var text = await response.Content.ReadAsStringAsync();
        // The build rewrote webpack's publicPath, so its chunks and workers load from /ohif/.
        Assert.Contains("__webpack_require__.p = \"/ohif/\";", text);
        Assert.DoesNotContain("__webpack_require__.p = \"/\";", text);

        // Revalidation costs no body.
        using var again = new HttpRequestMessage(HttpMethod.Get, "/ohif/manifest.json");
        var first = await client.GetAsync("/ohif/manifest.json");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        again.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(again)).StatusCode);

        var wasm = Directory.GetFiles(Path.GetDirectoryName(Regex.Match(Server.Log, "served under /ohif/ from (\\S+)").Groups[1].Value + "/")!, "*.wasm").First();
        var wasmResponse = await client.GetAsync("/ohif/" + Path.GetFileName(wasm));
        Assert.Equal("application/wasm", wasmResponse.Content.Headers.ContentType!.MediaType);

        // A browser that accepts brotli gets the bundle compressed (once, then kept), under its own ETag.
        using var brotli = new HttpRequestMessage(HttpMethod.Get, bundle);
        brotli.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, deflate, br, zstd");
        var compressed = await client.SendAsync(brotli);
        Assert.Equal("br", Assert.Single(compressed.Content.Headers.ContentEncoding));
        Assert.Contains("Accept-Encoding", compressed.Headers.Vary);
        Assert.NotEqual(response.Headers.ETag!.Tag, compressed.Headers.ETag!.Tag);
        var packed = await compressed.Content.ReadAsByteArrayAsync();
        var original = System.Text.Encoding.UTF8.GetBytes(text);
        var unpacked = new byte[original.Length];
        Assert.True(System.IO.Compression.BrotliDecoder.TryDecompress(packed, unpacked, out var length) && length == original.Length);
        Assert.Equal(original, unpacked);
        Assert.True(packed.Length < original.Length / 3, $"{packed.Length} bytes compressed from {original.Length}");
        using var refused = new HttpRequestMessage(HttpMethod.Get, bundle);
        refused.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, br;q=0");
        Assert.Empty((await client.SendAsync(refused)).Content.Headers.ContentEncoding);

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/ohif/no-such-chunk.bundle.js")).StatusCode);
        Assert.NotEqual(HttpStatusCode.OK, (await client.GetAsync("/ohif/..%2F..%2F..%2Fappsettings.json")).StatusCode);
        Assert.NotEqual(HttpStatusCode.OK, (await client.GetAsync("/ohif/%2e%2e/%2e%2e/%2e%2e/OrthancWeb.csproj")).StatusCode);
    }
}

/// <summary>A server whose OHIF bundle is not there: it starts, says why, and has no /ohif/.</summary>
public sealed class OhifUnavailableTests : IAsyncLifetime
{
    private string _folder = "";
    private ServerProcess _server = null!;

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-ohif-none-").FullName;
        _server = await ServerProcess.StartAsync(_folder, ", \"OhifPath\": \"no-ohif-here\"");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    [Fact]
    public async Task The_server_starts_says_why_and_answers_404_under_ohif()
    {
        Assert.Contains($"OHIF is not available, and the Open in OHIF buttons are hidden: OrthancWeb:OhifPath ({Path.Combine(_folder, "no-ohif-here")}) holds no index.html", _server.Log);
        using var client = _server.CreateClient();
        Assert.Equal(HttpStatusCode.Redirect, (await ServerProcess.LoginAsync(client, "admin", ServerProcess.AdminPassword)).StatusCode);
        var response = await client.GetAsync("/ohif/viewer?StudyInstanceUIDs=1.2.3");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("OHIF is not available on this server: OrthancWeb:OhifPath", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/ohif/app-config.js")).StatusCode);
    }
}
