using System.ComponentModel.DataAnnotations;

namespace OrthancWeb.Security;

/// <summary>The "Security" section of appsettings.json.</summary>
public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary>User name of the administrator account created on first start.</summary>
    [Required, MinLength(1)]
    public string AdminUser { get; set; } = "admin";

    /// <summary>Its initial password; empty means a random one, printed once to the log.</summary>
    public string AdminPassword { get; set; } = "";
}
