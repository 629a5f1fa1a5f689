using Microsoft.AspNetCore.Components;

namespace OrthancWeb.Components.Explorer;

/// <summary>
/// A page that records in the audit trail that its resource was seen. A full page load renders it twice, prerendered
/// (the HTML already holds the patient's data, so that is the view) and then interactive: the prerender's record is
/// handed to the interactive render through the page's persisted state, so one visit is one entry. Navigating inside
/// the app renders once, and each resource shown is recorded.
/// </summary>
public abstract class ViewedPage : ComponentBase
{
    /// <summary>The resource whose view the prerender recorded (null once the interactive render has taken it over).</summary>
    [PersistentState]
    public string? ViewRecordedFor { get; set; }

    /// <summary>True when the view of <paramref name="id"/> is still to be recorded by this render.</summary>
    protected bool ShouldRecordView(string id)
    {
        var recorded = ViewRecordedFor == id;
        ViewRecordedFor = RendererInfo.IsInteractive ? null : id;
        return !recorded;
    }
}
