namespace OrthancWeb.Security;

/// <summary>Authorization policies by what a user may do, mapped to the three roles.</summary>
public static class Policies
{
    /// <summary>Browse and view: every role.</summary>
    public const string View = "View";
    /// <summary>Upload, delete, anonymize, send: Administrator and Clinician.</summary>
    public const string Modify = "Modify";
    /// <summary>Users and system settings: Administrator.</summary>
    public const string Administer = "Administer";
}
