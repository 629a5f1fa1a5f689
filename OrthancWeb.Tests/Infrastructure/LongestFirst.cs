using OrthancWeb.Tests.Infrastructure;
using Xunit.Abstractions;

[assembly: TestCollectionOrderer("OrthancWeb.Tests.Infrastructure.LongestFirst", "OrthancWeb.Tests")]

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>
/// Starts the longest test classes first. xUnit runs about two collections at a time on these 2-core machines; a
/// long one drawn last runs alone at the end (the kill test's 50 restarts ran alone for its last five minutes), while
/// started first it overlaps the many short ones. The list is measured (a trx run of the whole suite, longest first);
/// every other class keeps xUnit's order by name.
/// </summary>
public sealed class LongestFirst : ITestCollectionOrderer
{
    private static readonly string[] Longest =
    [
        "Faults.KillTests", "Browser.AccessibilityBrowserTests", "Server.StoreBehaviourTests", "Browser.OhifBrowserTests",
        "Server.DurabilityTests", "Server.FirstStartTests", "Browser.UploadBrowserTests", "Browser.BrowserTests",
        "Server.LockoutTests", "Faults.LoadTests", "Browser.HomeBrowserTests", "Browser.ExplorerLinksBrowserTests", "Faults.BombTests",
    ];

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderBy(Rank).ThenBy(c => c.DisplayName, StringComparer.Ordinal);

    private static int Rank(ITestCollection collection)
    {
        var i = Array.FindIndex(Longest, name => collection.DisplayName.EndsWith("OrthancWeb.Tests." + name, StringComparison.Ordinal));
        return i < 0 ? int.MaxValue : i;
    }
}
