using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Hosting;
using OrthancWeb.Jobs;

namespace OrthancWeb.Scripting;

/// <summary>
/// The server's one Lua state: the configured scripts, Orthanc's functions (RestApi*, Http*, ParseJson, DumpJson,
/// GetOrthancConfiguration, ...) and the calls into the scripts' callbacks. Calls are serialised, as Orthanc serialises
/// them with its mutex.
/// </summary>
/// <remarks>
/// Re-entry: a callback that calls RestApiPost('/instances', ...) holds the lock while the upload runs, and the upload
/// asks ReceivedInstanceFilter, which needs Lua too. Orthanc's mutex is recursive; here the holder's async flow is
/// marked (an AsyncLocal that flows into the in-process request), and a call from inside that flow runs without
/// waiting: the holder is blocked in the C# function that made the request, so the state is still used by one thread
/// at a time.
/// </remarks>
public sealed partial class LuaEngine : IDisposable
{
    /// <summary>The callbacks Orthanc calls, by name.</summary>
    public static readonly string[] Callbacks =
    [
        "Initialize", "Finalize", "OnStoredInstance", "OnStablePatient", "OnStableStudy", "OnStableSeries",
        "OnDeletedPatient", "OnDeletedStudy", "OnDeletedSeries", "OnDeletedInstance",
        "OnUpdatedPatient", "OnUpdatedStudy", "OnUpdatedSeries", "OnUpdatedInstance", "OnHeartBeat",
        "ReceivedInstanceFilter", "ReceivedCStoreInstanceFilter", "IncomingHttpRequestFilter",
        "OnJobSubmitted", "OnJobSuccess", "OnJobFailure", "IncomingFindRequestFilter", "OutgoingFindRequestFilter",
    ];

    private readonly LuaState _state = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly AsyncLocal<bool> _holding = new();
    private readonly InProcessRestApi _rest;
    private readonly IConfiguration _configuration;
    private readonly IServiceProvider _services;
    private readonly ILogger<LuaEngine> _logger;
    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan };
    private volatile HashSet<string> _defined = [];
    private AuthenticationHeaderValue? _httpCredentials;
    private TimeSpan _httpTimeout = TimeSpan.FromSeconds(60);
    private StringBuilder? _captured;

    public LuaEngine(IOptions<LuaOptions> options, DataPaths paths, InProcessRestApi rest, IConfiguration configuration, IServiceProvider services, ILogger<LuaEngine> logger)
    {
        _rest = rest;
        _configuration = configuration;
        // The jobs engine is looked up when needed: ingest asks the filters, and jobs store through ingest (a cycle otherwise).
        _services = services;
        _logger = logger;
        _state.Output = line =>
        {
            if (_captured is { } output) output.Append(line).Append('\n');
            else LogSays(_logger, line);
        };
        RegisterFunctions();
        _state.Execute(LuaToolbox.Source, "toolbox");
        Scripts = options.Value.LuaScripts.Select(s => LuaScriptFiles.Resolve(paths, s)).ToList();
    }

    /// <summary>The configured scripts, resolved; run by <see cref="LoadScripts"/>.</summary>
    public IReadOnlyList<string> Scripts { get; }

    public void Dispose()
    {
        _state.Dispose();
        _http.Dispose();
        _gate.Dispose();
    }

    /// <summary>Runs the configured scripts (at start-up; an error stops the server, as in Orthanc).</summary>
    public void LoadScripts()
    {
        foreach (var path in Scripts)
        {
            LogInstalling(_logger, path);
            try { _state.Execute(File.ReadAllText(path), Path.GetFileName(path)); }
            catch (LuaScriptException ex) { throw new InvalidOperationException($"LuaScripts: {path} failed: {ex.Message}", ex); }
        }
        RefreshDefined();
    }

    /// <summary>Whether the scripts define this callback (cheap: read without the lock, refreshed after each script run).</summary>
    public bool Defines(string callback) => _defined.Contains(callback);

    public bool DefinesAny(IEnumerable<string> callbacks) => callbacks.Any(_defined.Contains);

    private void RefreshDefined() => _defined = Callbacks.Where(_state.IsFunction).ToHashSet();

    /// <summary>Runs with the state to ourselves (or re-entered from the flow that holds it).</summary>
    private async Task<T> LockedAsync<T>(Func<LuaState, T> action, CancellationToken ct)
    {
        if (_holding.Value) return action(_state);
        await _gate.WaitAsync(ct);
        try
        {
            _holding.Value = true;
            return action(_state);
        }
        finally
        {
            _holding.Value = false;
            _gate.Release();
        }
    }

    /// <summary>POST /tools/execute-script: runs a chunk and answers what it printed (Orthanc's chunk name is "line").</summary>
    public Task<string> ExecuteAsync(string chunk, CancellationToken ct) => LockedAsync(state =>
    {
        var outer = _captured;
        _captured = new StringBuilder();
        try
        {
            state.Call("_InitializeJob");
            state.Execute(chunk, "line");
            SubmitOperations(state);
            return _captured.ToString();
        }
        finally
        {
            _captured = outer;
            RefreshDefined();
        }
    }, ct);

    /// <summary>
    /// Calls a callback if the scripts define it; the operations it queued (SendToModality, Delete...) become one job.
    /// Its failure is the caller's to log: nothing the server has stored depends on it.
    /// </summary>
    public Task CallAsync(string callback, object?[] arguments, CancellationToken ct) => !Defines(callback) ? Task.CompletedTask : LockedAsync(state =>
    {
        if (!state.IsFunction(callback)) return false;
        state.Call("_InitializeJob");
        state.Call(callback, arguments);
        SubmitOperations(state);
        return true;
    }, ct);

    /// <summary>Calls a filter callback; true when it is not defined.</summary>
    public Task<bool> PredicateAsync(string callback, object?[] arguments, CancellationToken ct) => !Defines(callback) ? Task.FromResult(true) : LockedAsync(state =>
        !state.IsFunction(callback) || state.CallPredicate(callback, arguments), ct);

    /// <summary>Calls a callback and returns its result as JSON (null when it returned nothing or is not defined).</summary>
    public Task<JsonNode?> EvaluateAsync(string callback, object?[] arguments, CancellationToken ct) => !Defines(callback) ? Task.FromResult<JsonNode?>(null) : LockedAsync(state =>
        state.IsFunction(callback) ? state.Call(callback, arguments) : null, ct);

    private void SubmitOperations(LuaState state)
    {
        if (state.Call("_AccessJob") is not JsonArray { Count: > 0 } operations) return;
        var job = _services.GetRequiredService<JobEngine>().Submit(LuaOperationsJob.JobType, new JsonObject { ["Operations"] = operations.DeepClone() });
        LogOperations(_logger, operations.Count, job.Id);
    }

    // ---- The functions scripts call ----

    private void RegisterFunctions()
    {
        _state.Register("_ParseJson", s =>
        {
            var text = s.StringArgument(1);
            if (text is null) return s.ReturnError("ParseJson() expects a string");
            try { return s.Return(JsonNode.Parse(text)); }
            catch (JsonException ex) { return s.ReturnError("Cannot parse JSON: " + ex.Message); }
        });
        _state.Register("_DumpJson", s => s.Return(s.JsonArgument(1, s.BooleanArgument(2))?.ToJsonString() ?? "null"));
        _state.Register("_GenerateDicomUid", s => s.Return(UidMap.NewUid()));
        _state.Register("GetOrthancConfiguration", s => s.Return(ConfigurationJson(_configuration.GetSection(ServerOptions.Section)) ?? new JsonObject()));

        _state.Register("RestApiGet", s => RestApi(s, "GET", hasBody: false));
        _state.Register("RestApiPost", s => RestApi(s, "POST", hasBody: true));
        _state.Register("RestApiPut", s => RestApi(s, "PUT", hasBody: true));
        _state.Register("RestApiDelete", s => RestApi(s, "DELETE", hasBody: false));

        _state.Register("HttpGet", s => Http(s, HttpMethod.Get, hasBody: false));
        _state.Register("HttpPost", s => Http(s, HttpMethod.Post, hasBody: true));
        _state.Register("HttpPut", s => Http(s, HttpMethod.Put, hasBody: true));
        _state.Register("HttpDelete", s => Http(s, HttpMethod.Delete, hasBody: false));
        _state.Register("SetHttpCredentials", s =>
        {
            var (user, password) = (s.StringArgument(1), s.StringArgument(2));
            _httpCredentials = user is null ? null : new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
            return 0;
        });
        _state.Register("_SetHttpTimeout", s =>
        {
            if (s.NumberArgument(1) is not { } seconds || seconds < 0) return s.ReturnError("SetHttpTimeout() expects a number of seconds");
            _httpTimeout = seconds == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(seconds);
            return 0;
        });
    }

    /// <summary>
    /// RestApiGet(uri, builtin, headers), RestApiPost(uri, body, builtin, headers)...: the body of a 200 answer, true for
    /// a DELETE, nil for any failure (logged), as in Orthanc. There are no plugins here, so "builtin" changes nothing.
    /// </summary>
    private int RestApi(LuaState s, string method, bool hasBody)
    {
        var uri = s.StringArgument(1);
        var body = hasBody ? s.BytesArgument(2) : null;
        if (uri is null || hasBody && body is null)
        {
            LogBadArguments(_logger, "RestApi" + method);
            return s.ReturnNil();
        }
        var headers = s.DictionaryArgument(hasBody ? 4 : 3);
        try
        {
            var (status, answer) = _rest.SendAsync(method, uri, body, headers, CancellationToken.None).GetAwaiter().GetResult();
            if (status is >= 200 and < 300) return method == "DELETE" ? s.Return(true) : s.Return(answer);
            LogRestFailed(_logger, method, uri, status, Encoding.UTF8.GetString(answer));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogRestFailed(_logger, method, uri, 0, ex.Message);
        }
        return s.ReturnNil();
    }

    /// <summary>HttpGet(url, headers), HttpPost(url, body, headers)...: the answer's body, "SUCCESS" for a DELETE, nil for a failure.</summary>
    private int Http(LuaState s, HttpMethod method, bool hasBody)
    {
        var url = s.StringArgument(1);
        if (url is null) return s.ReturnNil();
        using var request = new HttpRequestMessage(method, url);
        if (hasBody) request.Content = new ByteArrayContent(s.BytesArgument(2) ?? []);
        foreach (var (name, value) in s.DictionaryArgument(hasBody ? 3 : 2))
            if (!request.Headers.TryAddWithoutValidation(name, value)) request.Content?.Headers.TryAddWithoutValidation(name, value);
        request.Headers.Authorization ??= _httpCredentials;
        try
        {
            using var cancel = new CancellationTokenSource(_httpTimeout);
            using var response = _http.SendAsync(request, cancel.Token).GetAwaiter().GetResult();
            var body = response.Content.ReadAsByteArrayAsync(cancel.Token).GetAwaiter().GetResult();
            if (response.IsSuccessStatusCode) return method == HttpMethod.Delete ? s.Return("SUCCESS") : s.Return(body);
            LogHttpFailed(_logger, method.Method, url, ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or InvalidOperationException)
        {
            LogHttpFailed(_logger, method.Method, url, ex.Message);
        }
        return s.ReturnNil();
    }

    /// <summary>A configuration section as JSON (what GetOrthancConfiguration returns): objects, arrays for 0..n keys, strings.</summary>
    private static JsonNode? ConfigurationJson(IConfigurationSection section)
    {
        var children = section.GetChildren().ToList();
        if (children.Count == 0) return section.Value is null ? null : JsonValue.Create(section.Value);
        if (children.Select((c, i) => c.Key == i.ToString(System.Globalization.CultureInfo.InvariantCulture)).All(b => b))
            return new JsonArray(children.Select(ConfigurationJson).ToArray());
        var o = new JsonObject();
        foreach (var child in children) o[child.Key] = ConfigurationJson(child);
        return o;
    }

    [LoggerMessage(LogLevel.Warning, "Lua says: {Line}")]
    private static partial void LogSays(ILogger logger, string line);

    [LoggerMessage(LogLevel.Information, "Installing the Lua script {Path}")]
    private static partial void LogInstalling(ILogger logger, string path);

    [LoggerMessage(LogLevel.Information, "Lua queued {Count} operation(s) as job {Job}")]
    private static partial void LogOperations(ILogger logger, int count, string job);

    [LoggerMessage(LogLevel.Error, "Lua: bad arguments to {Function}()")]
    private static partial void LogBadArguments(ILogger logger, string function);

    [LoggerMessage(LogLevel.Error, "Lua: {Method} {Uri} failed ({Status}): {Answer}")]
    private static partial void LogRestFailed(ILogger logger, string method, string uri, int status, string answer);

    [LoggerMessage(LogLevel.Error, "Lua: HTTP {Method} {Url} failed: {Reason}")]
    private static partial void LogHttpFailed(ILogger logger, string method, string url, string reason);
}
