using System.Text;
using System.Text.Json.Nodes;
using OrthancWeb.Index;
using OrthancWeb.Jobs;

namespace OrthancWeb.Scripting;

/// <summary>
/// The operations one Lua callback queued (SendToModality, SendToPeer, Delete, ModifyInstance, CallSystem), run in order as one
/// job once the callback has returned, as Orthanc's Lua job manager does: the script is never waiting on the network
/// and the Lua lock is free meanwhile. An operation without a resource takes the result of the one before it
/// (<c>SendToModality(ModifyInstance(id, ...), 'pacs')</c>). Each operation is a call to our own REST API, so it goes
/// through the same checks, audit records and jobs as the same request from a client.
/// </summary>
/// <remarks>
/// Orthanc keeps a modified instance in memory only; here it is stored (Origin "Lua", so scripts that test the origin
/// do not act on it again) and deleted once the operations are done.
/// </remarks>
public sealed class LuaOperationsJob(InProcessRestApi rest, IndexQueries queries) : IJobHandler
{
    public const string JobType = "LuaOperations";

    public string Type => JobType;

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var operations = job.Content["Operations"]?.AsArray() ?? [];
        string? current = null;
        var temporary = new List<string>();
        try
        {
            for (var i = 0; i < operations.Count; i++)
            {
                var operation = operations[i]!.AsObject();
                var resource = operation["Resource"]?.GetValue<string>();
                if (!string.IsNullOrEmpty(resource)) current = resource;
                if (current is null) throw new InvalidOperationException($"Lua operation {i + 1} has no resource to work on");
                current = (string?)operation["Operation"] switch
                {
                    "store-scu" => await StoreScuAsync(current, operation, ct),
                    "store-peer" => await StorePeerAsync(current, operation, ct),
                    "delete" => await DeleteAsync(current, ct),
                    "modify" => await ModifyAsync(current, operation, temporary, ct),
                    "call-system" => await CallSystemAsync(current, operation, ct),
                    var other => throw new InvalidOperationException($"Unknown Lua operation {other}"),
                };
                progress.Report(100.0 * (i + 1) / operations.Count);
            }
        }
        finally
        {
            foreach (var id in temporary) await rest.SendAsync("DELETE", "/instances/" + id, null, null, CancellationToken.None);
        }
        return new JsonObject { ["Operations"] = operations.Count };
    }

    private async Task<string> StoreScuAsync(string resource, JsonObject operation, CancellationToken ct)
    {
        var body = new JsonObject { ["Resources"] = new JsonArray(resource), ["Synchronous"] = true };
        if ((string?)operation["LocalAet"] is { Length: > 0 } localAet) body["LocalAet"] = localAet;
        if (operation["Timeout"] is JsonValue timeout && timeout.TryGetValue<double>(out var seconds)) body["Timeout"] = (int)seconds;
        await CallAsync("POST", $"/modalities/{Uri.EscapeDataString((string?)operation["Modality"] ?? "")}/store", body.ToJsonString(), ct);
        return resource;
    }

    private async Task<string> DeleteAsync(string resource, CancellationToken ct)
    {
        var level = (await queries.GetAsync(resource, null, ct))?.Level;
        if (level is null) return resource; // gone already: nothing to delete
        var route = level switch { ResourceLevel.Patient => "patients", ResourceLevel.Study => "studies", ResourceLevel.Series => "series", _ => "instances" };
        await CallAsync("DELETE", $"/{route}/{resource}", (byte[]?)null, ct);
        return resource;
    }

    /// <summary>To an Orthanc peer (OrthancPeers), through POST /peers/{name}/store.</summary>
    private async Task<string> StorePeerAsync(string resource, JsonObject operation, CancellationToken ct)
    {
        var body = new JsonObject { ["Resources"] = new JsonArray(resource), ["Synchronous"] = true };
        await CallAsync("POST", $"/peers/{Uri.EscapeDataString((string?)operation["Peer"] ?? "")}/store", body.ToJsonString(), ct);
        return resource;
    }

    private async Task<string> ModifyAsync(string resource, JsonObject operation, List<string> temporary, CancellationToken ct)
    {
        var request = new JsonObject { ["Force"] = true };
        foreach (var key in new[] { "Replace", "Remove", "RemovePrivateTags" })
            if (operation[key] is { } value) request[key] = value.DeepClone();
        var modified = await CallAsync("POST", $"/instances/{resource}/modify", request.ToJsonString(), ct);
        var stored = JsonNode.Parse(await CallAsync("POST", "/instances", modified, ct))!["ID"]!.GetValue<string>();
        temporary.Add(stored);
        return stored;
    }

    /// <summary>
    /// CallSystem(id, command, args): runs the command with the script's arguments and then the path of a private copy
    /// of the instance's file (Orthanc's call-system operation), without a shell. A non-zero exit fails the job.
    /// </summary>
    private async Task<string> CallSystemAsync(string resource, JsonObject operation, CancellationToken ct)
    {
        var command = (string?)operation["Command"] ?? throw new InvalidOperationException("CallSystem: no command");
        var file = await CallAsync("GET", $"/instances/{resource}/file", (byte[]?)null, ct);
        var folder = Directory.CreateTempSubdirectory("orthancweb-lua-"); // 0700: the file is patient data
        try
        {
            var path = Path.Combine(folder.FullName, resource + ".dcm");
            await File.WriteAllBytesAsync(path, file, ct);
            var start = new System.Diagnostics.ProcessStartInfo(command) { UseShellExecute = false };
            foreach (var argument in Arguments(operation["Arguments"])) start.ArgumentList.Add(argument);
            start.ArgumentList.Add(path);
            using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"CallSystem: {command} did not start");
            try { await process.WaitForExitAsync(ct); }
            catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw; }
            if (process.ExitCode != 0) throw new InvalidOperationException($"CallSystem: {command} exited with status {process.ExitCode}");
        }
        finally { folder.Delete(recursive: true); }
        return resource;
    }

    /// <summary>The script's argument table, in order (a Lua array arrives as a JSON array; a lone value as itself).</summary>
    private static IEnumerable<string> Arguments(JsonNode? arguments) => arguments switch
    {
        null => [],
        JsonArray array => array.Select(a => a is JsonValue v && v.TryGetValue<string>(out var text) ? text : a?.ToJsonString() ?? ""),
        JsonObject table => table.OrderBy(p => int.TryParse(p.Key, out var n) ? n : int.MaxValue).Select(p => p.Value is JsonValue v && v.TryGetValue<string>(out var text) ? text : p.Value?.ToJsonString() ?? ""),
        JsonValue value => [value.TryGetValue<string>(out var text) ? text : value.ToJsonString()],
        _ => [],
    };

    private Task<byte[]> CallAsync(string method, string uri, string? body, CancellationToken ct) =>
        CallAsync(method, uri, body is null ? null : Encoding.UTF8.GetBytes(body), ct);

    private async Task<byte[]> CallAsync(string method, string uri, byte[]? body, CancellationToken ct)
    {
        var (status, answer) = await rest.SendAsync(method, uri, body, null, ct);
        if (status is < 200 or >= 300)
            throw new InvalidOperationException($"{method} {uri} answered {status}: {Encoding.UTF8.GetString(answer)}");
        return answer;
    }
}
