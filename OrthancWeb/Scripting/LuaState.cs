using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using KeraLua;

namespace OrthancWeb.Scripting;

/// <summary>
/// One Lua 5.4 interpreter (KeraLua, the native library shipped in its package) and the conversions Orthanc's
/// scripts rely on: JSON to tables and back, print() with Orthanc's formatting. Not thread-safe: <see cref="LuaEngine"/>
/// serialises every use, as Orthanc does with its own mutex.
/// </summary>
/// <remarks>
/// Functions written in C# never raise a Lua error themselves (lua_error unwinds with longjmp, which must not cross
/// .NET frames): they return nil plus a message, and the small Lua wrappers of <see cref="LuaToolbox"/> raise it.
/// </remarks>
public sealed class LuaState : IDisposable
{
    private readonly Lua _lua;
    // The delegates handed to native code: kept here so the GC never collects one Lua still calls.
    private readonly List<LuaFunction> _functions = [];

    public LuaState()
    {
        _lua = new Lua(openLibs: true) { Encoding = Encoding.UTF8 };
        Register("print", Print);
    }

    public void Dispose() => _lua.Dispose();

    /// <summary>Where print() writes: the answer of execute-script, or the log for callbacks.</summary>
    public Action<string>? Output { get; set; }

    /// <summary>Null if <paramref name="chunk"/> compiles; else Lua's message, with the line.</summary>
    public static string? SyntaxError(string chunk, string name)
    {
        using var lua = new Lua(openLibs: false) { Encoding = Encoding.UTF8 };
        return lua.LoadString(chunk, name) == LuaStatus.OK ? null : lua.ToString(-1, false);
    }

    /// <summary>Registers a global function written in C#.</summary>
    public void Register(string name, Func<LuaState, int> function)
    {
        LuaFunction native = _ => function(this);
        _functions.Add(native);
        _lua.Register(name, native);
    }

    /// <summary>Runs a chunk; a syntax or runtime error is thrown as <see cref="LuaScriptException"/> with Lua's message.</summary>
    public void Execute(string chunk, string name)
    {
        if (_lua.LoadString(chunk, name) != LuaStatus.OK) throw new LuaScriptException(PopError());
        if (_lua.PCall(0, 0, 0) != LuaStatus.OK) throw new LuaScriptException(PopError());
    }

    public bool IsFunction(string name)
    {
        var type = _lua.GetGlobal(name);
        _lua.Pop(1);
        return type == LuaType.Function;
    }

    /// <summary>Calls a global function with JSON-shaped arguments; returns its first result as JSON (null for nil).</summary>
    public JsonNode? Call(string name, params object?[] arguments)
    {
        var top = _lua.GetTop();
        try
        {
            if (_lua.GetGlobal(name) != LuaType.Function) throw new LuaScriptException($"{name} is not a function");
            foreach (var argument in arguments) Push(argument);
            if (_lua.PCall(arguments.Length, 1, 0) != LuaStatus.OK) throw new LuaScriptException(PopError());
            return ToJson(-1, keepStrings: false);
        }
        finally { _lua.SetTop(top); }
    }

    /// <summary>Calls a global predicate: what Lua counts as true (anything but nil and false).</summary>
    public bool CallPredicate(string name, params object?[] arguments)
    {
        var top = _lua.GetTop();
        try
        {
            if (_lua.GetGlobal(name) != LuaType.Function) throw new LuaScriptException($"{name} is not a function");
            foreach (var argument in arguments) Push(argument);
            if (_lua.PCall(arguments.Length, 1, 0) != LuaStatus.OK) throw new LuaScriptException(PopError());
            return _lua.ToBoolean(-1);
        }
        finally { _lua.SetTop(top); }
    }

    private string PopError()
    {
        var message = _lua.ToString(-1, false) ?? "unknown Lua error";
        _lua.Pop(1);
        return message;
    }

    // ---- The stack, for functions written in C# ----

    public int ArgumentCount => _lua.GetTop();

    public LuaType TypeOf(int index) => _lua.Type(index);

    public string? StringArgument(int index) => _lua.GetTop() >= index && _lua.IsStringOrNumber(index) ? _lua.ToString(index, false) : null;

    /// <summary>A string argument as its bytes (a DICOM file, a body): Lua strings are byte strings.</summary>
    public byte[]? BytesArgument(int index) => _lua.GetTop() >= index && _lua.IsStringOrNumber(index) ? _lua.ToBuffer(index, false) : null;

    public bool BooleanArgument(int index) => _lua.GetTop() >= index && _lua.ToBoolean(index);

    public double? NumberArgument(int index) => _lua.GetTop() >= index && _lua.Type(index) == LuaType.Number ? _lua.ToNumber(index) : null;

    /// <summary>A table of strings (HTTP headers), keys as given.</summary>
    public Dictionary<string, string> DictionaryArgument(int index)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (_lua.GetTop() < index || _lua.Type(index) != LuaType.Table) return result;
        var table = _lua.AbsIndex(index);
        _lua.PushNil();
        while (_lua.Next(table))
        {
            if (_lua.IsStringOrNumber(-2) && _lua.IsStringOrNumber(-1))
                result[_lua.ToString(-2, true)] = _lua.ToString(-1, true); // never lua_tolstring on a key: it would convert it in place and break lua_next
            _lua.Pop(1);
        }
        return result;
    }

    public JsonNode? JsonArgument(int index, bool keepStrings) => _lua.GetTop() >= index ? ToJson(index, keepStrings) : null;

    public int ReturnNil() { _lua.PushNil(); return 1; }

    public int Return(object? value) { Push(value); return 1; }

    /// <summary>Two results, nil and a message: what the Lua wrappers turn into an error.</summary>
    public int ReturnError(string message) { _lua.PushNil(); _lua.PushString(message); return 2; }

    /// <summary>Pushes a value: JSON (objects and arrays become tables, numbers are floats as Orthanc pushes them), strings, bytes, booleans.</summary>
    public void Push(object? value)
    {
        switch (value)
        {
            case null: _lua.PushNil(); break;
            case string s: _lua.PushString(s); break;
            case byte[] b: _lua.PushBuffer(b); break;
            case bool b: _lua.PushBoolean(b); break;
            case int i: _lua.PushInteger(i); break;
            case long l: _lua.PushInteger(l); break;
            case double d: _lua.PushNumber(d); break;
            case JsonNode node: PushJson(node); break;
            default: _lua.PushString(Convert.ToString(value, CultureInfo.InvariantCulture)); break;
        }
    }

    private void PushJson(JsonNode? node)
    {
        switch (node)
        {
            case null: _lua.PushNil(); break;
            case JsonObject o:
                _lua.NewTable();
                foreach (var (key, item) in o)
                {
                    PushJson(item);
                    _lua.SetField(-2, key);
                }
                break;
            case JsonArray a:
                _lua.NewTable();
                for (var i = 0; i < a.Count; i++)
                {
                    PushJson(a[i]);
                    _lua.RawSetInteger(-2, i + 1);
                }
                break;
            case JsonValue v when v.TryGetValue<string>(out var s): _lua.PushString(s); break;
            case JsonValue v when v.TryGetValue<bool>(out var b): _lua.PushBoolean(b); break;
            // Orthanc hands every JSON number to Lua as a float (ParseJson('[2]')[1] prints 2.0).
            case JsonValue v when v.TryGetValue<double>(out var d): _lua.PushNumber(d); break;
            default: _lua.PushString(node.ToJsonString()); break;
        }
    }

    /// <summary>
    /// A Lua value as JSON: a table whose keys are exactly 1..n is an array (the empty table too), any other table an
    /// object; with <paramref name="keepStrings"/> numbers and booleans become strings (DumpJson's second argument).
    /// </summary>
    public JsonNode? ToJson(int index, bool keepStrings)
    {
        index = _lua.AbsIndex(index);
        switch (_lua.Type(index))
        {
            case LuaType.Nil or LuaType.None: return null;
            case LuaType.Boolean: return keepStrings ? JsonValue.Create(_lua.ToBoolean(index) ? "true" : "false") : JsonValue.Create(_lua.ToBoolean(index));
            case LuaType.Number:
                if (keepStrings) return JsonValue.Create(_lua.ToString(index, true));
                // Integral values are written as integers, as Orthanc does (DumpJson({a=2.0}) is {"a":2}).
                var number = _lua.ToNumber(index);
                return Math.Abs(number) < 1e15 && number == Math.Truncate(number) ? JsonValue.Create((long)number) : JsonValue.Create(number);
            case LuaType.String: return JsonValue.Create(_lua.ToString(index, false));
            case LuaType.Table:
                var entries = new List<(object Key, JsonNode? Value)>();
                _lua.PushNil();
                while (_lua.Next(index))
                {
                    object key = _lua.Type(-2) == LuaType.Number && _lua.IsInteger(-2) ? _lua.ToInteger(-2) : _lua.ToString(-2, true) ?? "";
                    entries.Add((key, ToJson(-1, keepStrings)));
                    _lua.Pop(1);
                }
                var isArray = entries.All(e => e.Key is long) && entries.Select(e => (long)e.Key).Order().SequenceEqual(Enumerable.Range(1, entries.Count).Select(i => (long)i));
                if (isArray) return new JsonArray(entries.OrderBy(e => (long)e.Key).Select(e => e.Value).ToArray());
                var o = new JsonObject();
                // Keys in order, as Orthanc's JSON writer has them (DumpJson({b=1, a=2}) is {"a":2,"b":1}).
                foreach (var (key, value) in entries.OrderBy(e => Convert.ToString(e.Key, CultureInfo.InvariantCulture), StringComparer.Ordinal))
                    o[Convert.ToString(key, CultureInfo.InvariantCulture)!] = value;
                return o;
            default: return JsonValue.Create(_lua.ToString(index, true));
        }
    }

    /// <summary>Orthanc's print: the arguments as tostring() shows them, separated by ", ", one line per call.</summary>
    private int Print(LuaState _)
    {
        var parts = new string[_lua.GetTop()];
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i] = _lua.ToString(i + 1, true) ?? "nil"; // luaL_tolstring: KeraLua pops the copy it pushes
        }
        Output?.Invoke(string.Join(", ", parts));
        return 0;
    }
}

/// <summary>A Lua script failed to compile or raised an error; the message is Lua's.</summary>
public sealed class LuaScriptException(string message) : Exception(message);
