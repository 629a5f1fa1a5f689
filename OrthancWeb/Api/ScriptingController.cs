using System.Text;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Scripting;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>POST /tools/execute-script: Lua code run in the server's Lua state, its printed output as the answer.</summary>
[ApiController]
[Authorize(Policy = Policies.Administer)]
[Route("tools/execute-script")]
public sealed class ScriptingController(LuaEngine lua, IOptions<LuaOptions> options, IAuditTrail audit) : ControllerBase
{
    /// <summary>
    /// The body is Lua source; the answer is what it printed (text/plain). Off unless ExecuteLuaEnabled: then a 403 with
    /// an empty body, as Orthanc 1.10 answers. A syntax or runtime error is Orthanc's 500 "Cannot execute a Lua command"
    /// with Lua's message in Details. Every run is in the audit trail, with the script's first line.
    /// </summary>
    [HttpPost]
    public async Task<IActionResult> Execute(CancellationToken ct)
    {
        if (!options.Value.ExecuteLuaEnabled)
        {
            audit.Record(new AuditEvent(AuditActions.ExecuteScript, AuditOutcome.MinorFailure) { Details = "refused: ExecuteLuaEnabled is false" });
            // Empty, as Orthanc's (not the framework's problem details).
            Response.StatusCode = StatusCodes.Status403Forbidden;
            return new EmptyResult();
        }
        using var reader = new StreamReader(Request.Body, Encoding.UTF8);
        var script = await reader.ReadToEndAsync(ct);
        var first = script.Split('\n', 2)[0].Trim();
        var summary = $"{script.Length} characters: {(first.Length > 80 ? first[..80] + "..." : first)}";
        try
        {
            var output = await lua.ExecuteAsync(script, ct);
            audit.Record(new AuditEvent(AuditActions.ExecuteScript, AuditOutcome.Success) { Details = summary });
            return Content(output, "text/plain");
        }
        catch (LuaScriptException ex)
        {
            audit.Record(new AuditEvent(AuditActions.ExecuteScript, AuditOutcome.MinorFailure) { Details = $"{summary}; failed: {ex.Message}" });
            throw;
        }
    }
}
