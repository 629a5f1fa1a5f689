namespace OrthancWeb.Security;

/// <summary>
/// The administrator's generated password: written once to a file only the server's account can read, and to be
/// replaced at the first login. The account carries <see cref="RequiredClaim"/> until then.
/// </summary>
public static class PasswordChange
{
    /// <summary>A user claim: this account must choose a new password before doing anything else.</summary>
    public const string RequiredClaim = "OrthancWeb.PasswordChangeRequired";

    public const string GeneratedPasswordFileName = "admin-password.txt";
}
