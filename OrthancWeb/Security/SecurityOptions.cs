using System.ComponentModel.DataAnnotations;

namespace OrthancWeb.Security;

/// <summary>The "Security" section of appsettings.json.</summary>
public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary>User name of the administrator account created on first start.</summary>
    [Required, MinLength(1)]
    public string AdminUser { get; set; } = "admin";

    /// <summary>
    /// Its initial password. Empty means a random one, written once to <c>&lt;DataDirectory&gt;/admin-password.txt</c>
    /// (mode 0600, never to the log) and to be changed at the first login.
    /// </summary>
    public string AdminPassword { get; set; } = "";

    /// <summary>Failed logins (form or HTTP Basic) one client address may make before it has to wait.</summary>
    [Range(1, 1_000_000)]
    public int LoginFailuresBeforeDelay { get; set; } = 5;

    /// <summary>
    /// The longest wait, in seconds, imposed on an address after repeated failures: the first wait is one second and
    /// each further failure doubles it up to this. Accounts themselves are never locked by failures, so that no one can
    /// lock the administrator out from another machine.
    /// </summary>
    [Range(1, 86_400)]
    public int LoginMaximumDelay { get; set; } = 900;

    /// <summary>
    /// Seconds between two checks that a signed-in browser's user still exists with the same password and roles (the
    /// login cookie's security stamp, and every open Blazor circuit): a deleted user is out within this time.
    /// </summary>
    [Range(1, 3600)]
    public int SessionValidationInterval { get; set; } = 60;

    /// <summary>Seconds the HTTPS responses ask browsers to use HTTPS only for this host (HSTS, RFC 6797); 0 sends no header.</summary>
    [Range(0, 63_072_000)]
    public int HstsMaxAge { get; set; } = 31_536_000;
}
