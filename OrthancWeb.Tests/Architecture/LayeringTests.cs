using System.Text.RegularExpressions;
using NetArchTest.Rules;
using OrthancWeb.Index;

namespace OrthancWeb.Tests.Architecture;

/// <summary>
/// The server's folders in layers, bottom first (see ../shared/ARCHITECTURE.md): a folder may use those of lower
/// layers only, so dependencies go one way and no two folders form a cycle. The UI and the REST API sit side by side
/// on top and never use each other: both call the same application services.
/// </summary>
public sealed class LayeringTests
{
    private static readonly string[][] Layers =
    [
        ["Hosting"],
        ["Audit"],
        ["Storage", "Security"],
        ["Index"],
        ["Requests"],
        ["Ingest", "Imaging", "Jobs", "Explorer", "Annotations"],
        ["Networking", "Modification", "Export", "Reading", "DicomWeb", "OrthancPeers"],
        ["Routing", "Worklists", "Scripting", "Monitoring", "Backup"],
        ["Api", "Components"],
    ];

    public static TheoryData<string> Folders() => [.. Layers.SelectMany(l => l)];

    [Theory]
    [MemberData(nameof(Folders))]
    public void A_folder_uses_only_the_folders_of_lower_layers(string folder)
    {
        var layer = Array.FindIndex(Layers, l => l.Contains(folder));
        var forbidden = Layers.Skip(layer).SelectMany(l => l).Where(f => f != folder).Select(f => "OrthancWeb." + f).ToArray();
        var result = Types.InAssembly(typeof(IndexWriter).Assembly)
            .That().ResideInNamespaceMatching($@"^OrthancWeb\.{Regex.Escape(folder)}(\.|$)")
            .Should().NotHaveDependencyOnAny(forbidden).GetResult();
        Assert.True(result.IsSuccessful,
            $"{folder} uses a folder of its own layer or above ({string.Join(", ", forbidden)}): " +
            string.Join(", ", (result.FailingTypes ?? []).Select(t => t.FullName)));
    }

    [Fact]
    public void Every_server_namespace_has_a_layer()
    {
        var known = Layers.SelectMany(l => l).ToHashSet();
        var namespaces = typeof(IndexWriter).Assembly.GetTypes()
            .Select(t => t.Namespace).OfType<string>()
            .Where(n => n.StartsWith("OrthancWeb.", StringComparison.Ordinal))
            .Select(n => n.Split('.')[1]).Distinct().ToList();
        Assert.All(namespaces, n => Assert.Contains(n, known));
    }
}
