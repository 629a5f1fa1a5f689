namespace OrthancWeb.Security;

/// <summary>The three roles of the product: who may change things, who may only look.</summary>
public static class Roles
{
    /// <summary>Everything, including user administration.</summary>
    public const string Administrator = "Administrator";
    /// <summary>Browse, view, upload, anonymize, send.</summary>
    public const string Clinician = "Clinician";
    /// <summary>Browse and view only.</summary>
    public const string Viewer = "Viewer";

    public static readonly IReadOnlyList<string> All = [Administrator, Clinician, Viewer];
}
