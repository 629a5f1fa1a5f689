using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
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

    /// <summary>Where the CallSystem script copies the files it is given.</summary>
    public string Copies => Path.Combine(_folder, "copies");

    /// <summary>Waits for a line of the server's log (the scripts print what they were called with).</summary>
    public async Task LoggedAsync(string text, TimeSpan? within = null)
    {
        var clock = Stopwatch.StartNew();
        while (!Server.Log.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < (within ?? TimeSpan.FromSeconds(30)), $"never logged '{text}':\n" + Server.Log);
            await Task.Delay(100);
        }
    }

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-lua-configured-").FullName;
        Directory.CreateDirectory(Path.Combine(_folder, "scripts"));
        await File.WriteAllTextAsync(Path.Combine(_folder, "scripts", "failing-and-slow.lua"), LuaScripts.FailingAndSlow);
        await File.WriteAllTextAsync(Path.Combine(_folder, "scripts", "no-delete.lua"), LuaScripts.NoHttpDelete);
        await File.WriteAllTextAsync(Path.Combine(_folder, "scripts", "startup.lua"), LuaScripts.Startup);
        Directory.CreateDirectory(Copies);
        await File.WriteAllTextAsync(Path.Combine(_folder, "scripts", "updated.lua"), LuaScripts.UpdatedHeartBeatAndSystem.Replace("{folder}", Copies, StringComparison.Ordinal));
        DicomPort = ServerProcess.FreePort();
        Server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{DicomPort}}, "DicomAet": "OWEB", "LuaHeartBeatPeriod": 1,
            "LuaScripts": [ "scripts/failing-and-slow.lua", "scripts/no-delete.lua", "scripts/startup.lua", "scripts/updated.lua" ]
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

    // Callbacks and functions beyond the basics: OnUpdated*, OnHeartBeat, CallSystem.
    [Fact]
    public async Task OnUpdated_is_called_for_user_metadata_and_attachments_as_orthanc_calls_it()
    {
        var instance = GeneratedInstances.Ct("LUAUPDATED", "1.2.826.0.1.3680043.10.1105.1", "1.2.826.0.1.3680043.10.1105.2", "1.2.826.0.1.3680043.10.1105.3", 1);
        var stored = JsonNode.Parse(await (await fx.Rest.PostAsync("/instances", new ByteArrayContent(instance.Bytes))).EnsureSuccessStatusCode().Content.ReadAsStringAsync())!;
        (await fx.Rest.PutAsync($"/instances/{instance.Id}/metadata/1024", new StringContent("reviewed"))).EnsureSuccessStatusCode();
        await fx.LoggedAsync("Lua updated instance " + instance.Id);
        (await fx.Rest.PutAsync($"/series/{stored["ParentSeries"]}/attachments/1025", new StringContent("report"))).EnsureSuccessStatusCode();
        await fx.LoggedAsync("Lua updated series " + stored["ParentSeries"]);
    }

    [Fact]
    public async Task OnHeartBeat_is_called_every_period()
    {
        // LuaHeartBeatPeriod is 1 s: a few beats within a generous bound, and they go on.
        await fx.LoggedAsync("Lua heart beat 2");
        await fx.LoggedAsync("Lua heart beat 3");
    }

    [Fact]
    public async Task CallSystem_runs_the_command_on_a_copy_of_the_instance_file()
    {
        var instance = GeneratedInstances.Ct("LUASYSTEM", "1.2.826.0.1.3680043.10.1106.1", "1.2.826.0.1.3680043.10.1106.2", "1.2.826.0.1.3680043.10.1106.3", 1);
        (await fx.Rest.PostAsync("/instances", new ByteArrayContent(instance.Bytes))).EnsureSuccessStatusCode();
        var copy = Path.Combine(fx.Copies, instance.Id + ".dcm");
        var clock = Stopwatch.StartNew();
        while (!File.Exists(copy) || new FileInfo(copy).Length == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "CallSystem never copied the file:\n" + fx.Server.Log);
            await Task.Delay(100);
        }
        var stored = await fx.Rest.GetByteArrayAsync($"/instances/{instance.Id}/file");
        // cp may still be writing when the file appears: wait for the whole of it.
        while ((await File.ReadAllBytesAsync(copy)).Length < stored.Length && clock.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50);
        Assert.Equal(stored, await File.ReadAllBytesAsync(copy));
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
