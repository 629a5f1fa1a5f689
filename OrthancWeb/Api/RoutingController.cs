using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Routing;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>/routing/rules: the automatic routing rules, for scripts (the UI edits the same registry).</summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("routing/rules")]
public sealed class RoutingController(RoutingRegistry rules) : ControllerBase
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    [HttpGet("")]
    public IActionResult List() => Ok(new JsonArray(rules.All.Select(r =>
    {
        var node = JsonSerializer.SerializeToNode(r.Rule, Json)!.AsObject();
        node["ReadOnly"] = r.FromConfiguration;
        return (JsonNode)node;
    }).ToArray()));

    /// <summary>The rule's name is the URL's; the registry checks the rest.</summary>
    [HttpPut("{name}")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Put(string name, [FromBody] RoutingRule rule, CancellationToken ct)
    {
        rule.Name = name;
        try
        {
            await rules.SaveAsync(rule, ct);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // The registry's refusals: a rule that does nothing, one of appsettings.json.
            return ApiJson.Error(HttpContext, 400, ex.Message);
        }
        return Ok(new JsonObject());
    }

    [HttpDelete("{name}")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Delete(string name, CancellationToken ct)
    {
        try
        {
            return await rules.DeleteAsync(name, ct) ? Ok(new JsonObject()) : ApiJson.Error(HttpContext, 404, $"Unknown rule: {name}");
        }
        catch (InvalidOperationException ex) { return ApiJson.Error(HttpContext, 400, ex.Message); }
    }
}
