using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrthancWeb.Requests;

/// <summary>
/// A request body Orthanc also takes in a shorter form than its JSON object: /modalities/{name}/store takes a bare ID
/// or an array of IDs, PUT /modalities/{name} takes ["AET", "host", port].
/// </summary>
public interface IShorthandBody<TSelf> where TSelf : IShorthandBody<TSelf>
{
    /// <summary>The object form of a body that is not a JSON object (a JSON array, or a bare string); null if none.</summary>
    static abstract JsonObject? Expand(JsonNode shorthand);
}

/// <summary>Reads a request body into its type, whatever Content-Type the script sent (curl says form-urlencoded).</summary>
public static class RequestBody
{
    private static readonly ConcurrentDictionary<Type, Func<JsonNode, JsonObject?>?> Expanders = new();

    /// <summary>
    /// An empty body is an empty object; a body that does not start as JSON does ('{', '[' or '"') is one bare string.
    /// A wrong type throws a <see cref="JsonException"/> whose path names the field.
    /// </summary>
    public static object Read(string text, Type type)
    {
        text = text.Trim();
        JsonNode node = text.Length == 0 ? new JsonObject()
            : text[0] is '{' or '[' or '"' ? JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip })
                ?? throw new JsonException("Must provide a JSON value")
            : JsonValue.Create(text);
        if (node is not JsonObject && ExpanderOf(type) is { } expand)
            node = expand(node) ?? throw new JsonException($"This body is not one of the forms {type.Name} takes");
        if (node is not JsonObject) throw new JsonException("The body must be a JSON object");
        return node.Deserialize(type, RequestJson.Options) ?? throw new JsonException("Must provide a JSON object");
    }

    public static T Read<T>(string text) => (T)Read(text, typeof(T));

    private static Func<JsonNode, JsonObject?>? ExpanderOf(Type type) => Expanders.GetOrAdd(type, static t =>
        t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IShorthandBody<>))
            ? typeof(RequestBody).GetMethod(nameof(Expand), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(t).CreateDelegate<Func<JsonNode, JsonObject?>>()
            : null);

    private static JsonObject? Expand<T>(JsonNode shorthand) where T : IShorthandBody<T> => T.Expand(shorthand);

    /// <summary>A JSON array of strings, or one string, as the array Orthanc's shorthand forms stand for.</summary>
    public static JsonArray? Strings(JsonNode shorthand) => shorthand switch
    {
        JsonArray a => (JsonArray)a.DeepClone(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
        _ => null,
    };
}
