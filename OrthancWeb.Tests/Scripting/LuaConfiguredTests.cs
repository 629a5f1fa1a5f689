using System.Diagnostics;
using System.Net;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Scripting;

/// <summary>A server with scripts in LuaScripts only (ExecuteLuaEnabled left at its default, false).</summary>
public sealed class LuaConfiguredFixture : IAsyncLifetime
{
    private string _folder = "";
    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public int DicomPort { get; private set; }

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-lua-configured-").FullName;
        Directory.CreateDirectory(Path.Combine(_folder, "scripts"));
        await File.WriteAllTextAsync(Path.Combine(_folder, "scripts", "failing-and-slow.lua"), LuaScripts.FailingAndSlow);
        await File.WriteAllTextAsync(Path.Combine(_folder, "scripts", "no-delete.lua"), LuaScripts.NoHttpDelete);
        await File.WriteAllTextAsync(Path.Combine(_folder, "scripts", "startup.lua"), LuaScripts.Startup);
        DicomPort = ServerProcess.FreePort();
        Server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{DicomPort}}, "DicomAet": "OWEB", "LuaScripts": [ "scripts/failing-and-slow.lua", "scripts/no-delete.lua", "scripts/startup.lua" ]
            """);
        Rest = Server.CreateRestClient();
    }

    public async Task DisposeAsync()
    {
        Rest.Dispose();
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

public sealed class LuaConfiguredTests(LuaConfiguredFixture fx) : IClassFixture<LuaConfiguredFixture>
{
    [Fact]
    public async Task Execute_script_is_refused_when_not_enabled_as_orthanc_does()
    {
        // Orthanc 1.10.1 with ExecuteLuaEnabled false: 403, empty body.
        using var response = await fx.Rest.PostAsync("/tools/execute-script", new StringContent("print(42)"));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_failing_or_slow_script_never_costs_an_instance()
    {
        var dir = Directory.CreateTempSubdirectory("ow-lua-slow-").FullName;
        try
        {
            var throws = GeneratedInstances.Ct("LUATHROWS", "1.2.826.0.1.3680043.10.1101.1", "1.2.826.0.1.3680043.10.1101.2", "1.2.826.0.1.3680043.10.1101.3", 1);
            var slow = GeneratedInstances.Ct("LUASLOW", "1.2.826.0.1.3680043.10.1102.1", "1.2.826.0.1.3680043.10.1102.2", "1.2.826.0.1.3680043.10.1102.3", 1);
            var after = GeneratedInstances.Ct("LUAAFTER", "1.2.826.0.1.3680043.10.1103.1", "1.2.826.0.1.3680043.10.1103.2", "1.2.826.0.1.3680043.10.1103.3", 1);
            var files = new[] { throws, slow, after }.Select(i => { var p = Path.Combine(dir, i.SopUid + ".dcm"); File.WriteAllBytes(p, i.Bytes); return p; }).ToList();

            var sent = await StorescuSender.SendAsync("MODALITY", "OWEB", fx.DicomPort, files);
            Assert.Equal(files, sent.Acknowledged);
            // Acknowledged and stored while the slow callback (3 s) had not finished: the sender never waited for Lua.
            Assert.DoesNotContain("Lua finished slowly with " + slow.Id, fx.Server.Log, StringComparison.Ordinal);
            foreach (var instance in new[] { throws, slow, after })
                Assert.Equal(HttpStatusCode.OK, (await fx.Rest.GetAsync("/instances/" + instance.Id)).StatusCode);

            var clock = Stopwatch.StartNew();
            while (!fx.Server.Log.Contains("Lua finished slowly with " + slow.Id, StringComparison.Ordinal))
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the slow callback never finished:\n" + fx.Server.Log);
                await Task.Delay(100);
            }
            Assert.Contains("this script fails on purpose", fx.Server.Log, StringComparison.Ordinal);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task Initialize_runs_once_the_rest_api_answers()
    {
        // Its RestApiGet is not an HTTP request: the DELETE-refusing filter does not see it either way.
        var clock = Stopwatch.StartNew();
        while (!fx.Server.Log.Contains("Lua initialized against API version 16", StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "Initialize never printed:\n" + fx.Server.Log);
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Incoming_http_request_filter_refuses_what_it_returns_false_for()
    {
        var instance = GeneratedInstances.Ct("LUAHTTP", "1.2.826.0.1.3680043.10.1104.1", "1.2.826.0.1.3680043.10.1104.2", "1.2.826.0.1.3680043.10.1104.3", 1);
        (await fx.Rest.PostAsync("/instances", new ByteArrayContent(instance.Bytes))).EnsureSuccessStatusCode();
        using var delete = await fx.Rest.DeleteAsync("/instances/" + instance.Id);
        Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.GetAsync("/instances/" + instance.Id)).StatusCode);
    }
}

/// <summary>Scripts that cannot run stop the start, with the reason (as Orthanc refuses to start).</summary>
public sealed class LuaStartupTests
{
    [Fact]
    public async Task A_missing_script_or_a_syntax_error_stops_the_start()
    {
        var folder = Directory.CreateTempSubdirectory("ow-lua-bad-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "broken.lua"), "function OnStoredInstance(\n  print('unfinished'");
            var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
                ServerProcess.StartAsync(folder, """, "LuaScripts": [ "missing.lua", "broken.lua" ]"""));
            Assert.Contains("missing.lua not found", failure.Message, StringComparison.Ordinal);
            Assert.Contains("broken.lua does not compile", failure.Message, StringComparison.Ordinal);
        }
        finally { Directory.Delete(folder, true); }
    }
}
