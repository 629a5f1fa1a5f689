using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using OrthancWeb.Audit;
using OrthancWeb.Security;

namespace OrthancWeb.Components;

/// <summary>
/// Every event of a user's circuit (a click, a navigation, a JS callback) runs on behalf of that user, so that the
/// services the page calls can check the policy themselves (<see cref="Caller.Demand"/>), and the audit trail names
/// that user, the browser's address and the UI as the source. A circuit outlives the HTTP request that opened it, so
/// the request's caller cannot be relied on here: the address is taken once, from the connection that opens the
/// circuit.
/// </summary>
public sealed class CallerCircuitHandler(AuthenticationStateProvider authentication, IHttpContextAccessor? http = null) : CircuitHandler
{
    private string? _address = http?.HttpContext?.Connection.RemoteIpAddress?.ToString();

    /// <summary>The browser's address, as seen when the circuit opened.</summary>
    public string? Address => _address;

    public override Task OnCircuitOpenedAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        _address ??= http?.HttpContext?.Connection.RemoteIpAddress?.ToString();
        return Task.CompletedTask;
    }

    public override Func<CircuitInboundActivityContext, Task> CreateInboundActivityHandler(Func<CircuitInboundActivityContext, Task> next) =>
        async context =>
        {
            var state = await authentication.GetAuthenticationStateAsync();
            var name = state.User.Identity?.IsAuthenticated == true ? state.User.Identity.Name : null;
            using (AuditActor.Enter(new AuditActor(name, _address, AuditSources.Ui)))
            using (Caller.Enter(state.User))
                await next(context);
        };
}
