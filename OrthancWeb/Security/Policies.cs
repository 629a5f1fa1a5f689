using System.Security.Claims;

namespace OrthancWeb.Security;

/// <summary>
/// Authorization policies by what a user may do, mapped to the three roles. Pages, controllers and the services that
/// change data all name these policies, never the roles: the mapping below is the one place that says who may what.
/// </summary>
public static class Policies
{
    /// <summary>Browse and view: every role.</summary>
    public const string View = "View";
    /// <summary>Upload, delete, anonymize, send: Administrator and Clinician.</summary>
    public const string Modify = "Modify";
    /// <summary>Users and system settings: Administrator.</summary>
    public const string Administer = "Administer";

    public static IReadOnlyList<string> All { get; } = [View, Modify, Administer];

    /// <summary>The roles that satisfy a policy.</summary>
    public static string[] RolesOf(string policy) => policy switch
    {
        View => [Roles.Administrator, Roles.Clinician, Roles.Viewer],
        Modify => [Roles.Administrator, Roles.Clinician],
        Administer => [Roles.Administrator],
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "unknown policy"),
    };

    /// <summary>Whether a signed-in user holds a role of the policy (what ASP.NET's RequireRole checks, without its pipeline).</summary>
    public static bool Allows(ClaimsPrincipal user, string policy) =>
        user.Identity?.IsAuthenticated == true && RolesOf(policy).Any(user.IsInRole);
}
