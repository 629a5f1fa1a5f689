using OrthancWeb.Dicom;
using OrthancWeb.Security;

namespace OrthancWeb.Components.Layout;

/// <summary>
/// What a page tells its user when an action fails. A failure the user can act on (a modality that cannot be reached
/// or refuses, a request that breaks a rule, something that no longer exists) is said where it happened and the page
/// carries on; anything else reaches the layout's error boundary, which says it too and offers to start the page again.
/// </summary>
public static class FailureMessages
{
    /// <summary>Failures a page reports in place (a snackbar, a line of text) and then goes on as before.</summary>
    public static bool IsExpected(Exception ex) => ex is DicomException or KeyNotFoundException or TimeoutException or AccessDeniedException;

    /// <summary>"C-ECHO to ward failed: AET "WARD": association rejected: called AE title not recognized (permanent, service user)".</summary>
    public static string For(string action, Exception ex) => $"{action} failed: {Reason(ex)}";

    public static string Reason(Exception ex) => ex switch
    {
        DicomException or KeyNotFoundException or TimeoutException or AccessDeniedException => ex.Message,
        OperationCanceledException => "cancelled",
        // Not meant to happen: say what it was, the details are in the server log.
        _ => $"unexpected {ex.GetType().Name}: {ex.Message}",
    };
}
