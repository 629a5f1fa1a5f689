using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using OrthancWeb.Security;

namespace OrthancWeb.Components;

/// <summary>
/// Every event of a user's circuit (a click, a navigation, a JS callback) runs on behalf of that user, so that the
/// services the page calls can check the policy themselves (<see cref="Caller.Demand"/>). A circuit outlives the HTTP
/// request that opened it, so the request's caller cannot be relied on here.
/// </summary>
public sealed class CallerCircuitHandler(AuthenticationStateProvider authentication) : CircuitHandler
{
    public override Func<CircuitInboundActivityContext, Task> CreateInboundActivityHandler(Func<CircuitInboundActivityContext, Task> next) =>
        async context =>
        {
            var state = await authentication.GetAuthenticationStateAsync();
            using (Caller.Enter(state.User)) await next(context);
        };
}
