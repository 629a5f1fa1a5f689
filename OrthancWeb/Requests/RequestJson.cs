using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrthancWeb.Index;

namespace OrthancWeb.Requests;

/// <summary>
/// How request bodies and job parameters are read: Orthanc's field names as written, and values taken leniently
/// (a boolean as true, "true" or "1"; a number as 5 or "5"), so that scripts written for any Orthanc version work.
/// A value of the wrong type is a <see cref="JsonException"/> whose path names the field.
/// </summary>
public static class RequestJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var o = new JsonSerializerOptions
        {
            PropertyNamingPolicy = null,
            PropertyNameCaseInsensitive = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            // Other enums by name (numbers, as the first job files held them, still read).
            Converters = { new LenientBooleanConverter(), new LenientInt32Converter(), new LenientStringConverter(), new ResourceLevelConverter(), new JsonStringEnumConverter() },
        };
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }
}

/// <summary>true/false, "true"/"false" (any case), "1"/"0", 1/0.</summary>
public sealed class LenientBooleanConverter : JsonConverter<bool>
{
    public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.Number when reader.TryGetInt32(out var n) && n is 0 or 1 => n == 1,
        JsonTokenType.String => reader.GetString()?.Trim().ToLowerInvariant() switch
        {
            "true" or "1" => true,
            "false" or "0" => false,
            _ => throw new JsonException("Boolean value expected"),
        },
        _ => throw new JsonException("Boolean value expected"),
    };

    public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) => writer.WriteBooleanValue(value);
}

/// <summary>An integer as a JSON number or a string of digits ("5").</summary>
public sealed class LenientInt32Converter : JsonConverter<int>
{
    public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number when reader.TryGetInt32(out var n) => n,
        JsonTokenType.String when int.TryParse(reader.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) => n,
        _ => throw new JsonException("Integer value expected"),
    };

    public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}

/// <summary>A string, or a number written without quotes (a "Query" value of 20040119 is the text "20040119").</summary>
public sealed class LenientStringConverter : JsonConverter<string>
{
    public override bool HandleNull => false;

    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString()!,
        JsonTokenType.Number => Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan),
        _ => throw new JsonException("String value expected"),
    };

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}

/// <summary>A level as Orthanc names it ("Study", "study", "Studies"...); written as "Study".</summary>
public sealed class ResourceLevelConverter : JsonConverter<ResourceLevel>
{
    public override ResourceLevel Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String && ResourceLevelExtensions.TryParse(reader.GetString()!, out var level)
            ? level
            : throw new JsonException("Patient, Study, Series or Instance expected");

    public override void Write(Utf8JsonWriter writer, ResourceLevel value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}

/// <summary>The 400 answer's reason for a body that does not fit its type, naming the field as Orthanc does.</summary>
public static class RequestBodyError
{
    public static string Describe(JsonException ex)
    {
        var field = ex.Path switch
        {
            null or "$" => null,
            var p when p.StartsWith("$.", StringComparison.Ordinal) => p[2..],
            var p => p.TrimStart('$'),
        };
        // Our converters say what they expected; System.Text.Json's own message names the .NET type and repeats the path.
        var reason = ex.Message;
        var converted = reason.IndexOf("could not be converted to ", StringComparison.Ordinal);
        if (converted >= 0)
            reason = TypeWord(reason[(converted + 26)..]) + " value expected";
        else if (reason.Contains(" Path: ", StringComparison.Ordinal))
            reason = reason[..reason.IndexOf(" Path: ", StringComparison.Ordinal)];
        return field is null ? reason : $"{reason} in field: {field}";
    }

    /// <summary>"System.String. Path: ..." -> "String"; "System.Collections.Generic.List`1[System.String]" -> "Array".</summary>
    private static string TypeWord(string rest)
    {
        var type = rest.Split(". Path:", 2)[0].TrimEnd('.');
        if (type.Contains("List`") || type.Contains("[]") || type.Contains("IReadOnlyList")) return "Array";
        if (type.Contains("Dictionary")) return "Object";
        var name = type[(type.LastIndexOf('.') + 1)..];
        return name switch { "Int32" or "Int64" => "Integer", "Boolean" => "Boolean", "String" => "String", _ => "Object" };
    }
}
