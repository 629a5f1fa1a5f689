using System.Security.Claims;
using OrthancWeb.Audit;

namespace OrthancWeb.Security;

/// <summary>
/// The user on whose behalf the current code runs: set for each HTTP request (after authentication) and for each
/// event of a Blazor circuit, and absent for the server's own work (DICOM associations, jobs, routing, start-up).
/// Services that change data demand a policy here as well as the page or controller in front of them (defence in
/// depth: a page that forgot its AuthorizeView still cannot delete).
/// </summary>
public static class Caller
{
    private static readonly AsyncLocal<ClaimsPrincipal?> s_user = new();

    public static ClaimsPrincipal? Current => s_user.Value;

    /// <summary>Runs what follows (in this async flow) on behalf of <paramref name="user"/>; disposing restores the previous caller.</summary>
    public static Scope Enter(ClaimsPrincipal user)
    {
        var previous = s_user.Value;
        s_user.Value = user;
        return new Scope(previous);
    }

    /// <summary>Throws <see cref="AccessDeniedException"/> unless the current user satisfies the policy; the server's own work always may.</summary>
    public static void Demand(string policy, string action)
    {
        if (s_user.Value is not { } user || Policies.Allows(user, policy)) return;
        var name = user.Identity?.IsAuthenticated == true ? user.Identity.Name : "an anonymous user";
        throw new AccessDeniedException($"{name} may not {action} (needs the {policy} permission)");
    }

    public readonly struct Scope(ClaimsPrincipal? previous) : IDisposable
    {
        public void Dispose() => s_user.Value = previous;
    }

    /// <summary>
    /// Every HTTP request runs on behalf of its authenticated user (or an anonymous one, who may change nothing), and
    /// the audit trail names that user and the client's address.
    /// </summary>
    public static IApplicationBuilder UseCaller(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var name = context.User.Identity?.IsAuthenticated == true ? context.User.Identity.Name : null;
        using (AuditActor.Enter(new AuditActor(name, context.Connection.RemoteIpAddress?.ToString(), AuditSources.Rest)))
        using (Enter(context.User))
            await next(context);
    });
}

/// <summary>The current user may not do what was asked (HTTP 403; a message on the page).</summary>
public sealed class AccessDeniedException(string message) : UnauthorizedAccessException(message);
