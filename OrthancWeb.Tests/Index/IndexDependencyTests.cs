using System.Text.RegularExpressions;
using NetArchTest.Rules;
using OrthancWeb.Index;

namespace OrthancWeb.Tests.Index;

/// <summary>One direction between the index and its neighbours: Ingest -> Index -> Storage, never back.</summary>
public sealed class IndexDependencyTests
{
    [Theory]
    [InlineData("OrthancWeb.Index", "OrthancWeb.Ingest")]
    [InlineData("OrthancWeb.Storage", "OrthancWeb.Index")]
    [InlineData("OrthancWeb.Storage", "OrthancWeb.Ingest")]
    public void A_layer_does_not_know_the_one_above_it(string layer, string above)
    {
        var result = Types.InAssembly(typeof(IndexWriter).Assembly).That().ResideInNamespaceMatching($@"^{Regex.Escape(layer)}(\.|$)")
            .Should().NotHaveDependencyOnAny(above).GetResult();
        Assert.True(result.IsSuccessful, $"{layer} depends on {above}: " + string.Join(", ", (result.FailingTypes ?? []).Select(t => t.FullName)));
    }
}
