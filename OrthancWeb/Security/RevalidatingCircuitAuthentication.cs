using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace OrthancWeb.Security;

/// <summary>
/// A Blazor circuit lives as long as its browser tab, long after the request whose cookie opened it. Every
/// <see cref="SecurityOptions.SessionValidationInterval"/> (on the server's clock) the circuit's user is looked up
/// again: once deleted, or once its security stamp changed (new password, new roles), the circuit's state becomes
/// anonymous, and the page sends the browser to the login page, where the cookie is refused for the same reason.
/// (ASP.NET's RevalidatingServerAuthenticationStateProvider does the same on Task.Delay, outside the server's clock.)
/// </summary>
public sealed partial class RevalidatingCircuitAuthentication : ServerAuthenticationStateProvider, IDisposable
{
    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly ILogger<RevalidatingCircuitAuthentication> _logger;
    private CancellationTokenSource? _loop;

    public RevalidatingCircuitAuthentication(IServiceScopeFactory scopes, TimeProvider time, IOptions<SecurityOptions> options,
        ILogger<RevalidatingCircuitAuthentication> logger)
    {
        (_scopes, _time, _logger) = (scopes, time, logger);
        _interval = TimeSpan.FromSeconds(options.Value.SessionValidationInterval);
        AuthenticationStateChanged += OnChanged;
    }

    private void OnChanged(Task<AuthenticationState> state)
    {
        _loop?.Cancel();
        _loop?.Dispose();
        _loop = new CancellationTokenSource();
        _ = RevalidateAsync(state, _loop.Token);
    }

    private async Task RevalidateAsync(Task<AuthenticationState> stateTask, CancellationToken cancellation)
    {
        try
        {
            var user = (await stateTask).User;
            if (user.Identity?.IsAuthenticated != true) return;
            while (true)
            {
                await Task.Delay(_interval, _time, cancellation);
                bool valid;
                try { valid = await IsStillValidAsync(user); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogCheckFailed(_logger, user.Identity.Name, e);
                    valid = false; // fail closed: the user logs in again
                }
                if (!valid)
                {
                    SetAuthenticationState(Task.FromResult(new AuthenticationState(new ClaimsPrincipal(new ClaimsIdentity()))));
                    return;
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task<bool> IsStillValidAsync(ClaimsPrincipal principal)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        var user = await users.GetUserAsync(principal);
        if (user is null) return false;
        if (!users.SupportsUserSecurityStamp) return true;
        var stamp = principal.FindFirstValue(scope.ServiceProvider.GetRequiredService<IOptions<IdentityOptions>>().Value.ClaimsIdentity.SecurityStampClaimType);
        return stamp == await users.GetSecurityStampAsync(user) && !await users.IsLockedOutAsync(user);
    }

    public void Dispose()
    {
        AuthenticationStateChanged -= OnChanged;
        _loop?.Cancel();
        _loop?.Dispose();
    }

    [LoggerMessage(LogLevel.Warning, "Could not check the session of {User} again; it is ended")]
    private static partial void LogCheckFailed(ILogger logger, string? user, Exception exception);
}
