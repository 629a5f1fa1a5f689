using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using OrthancWeb.Index;
using OrthancWeb.Routing;

namespace OrthancWeb.Tests.Bounds;

/// <summary>The linear wildcard matcher (PS3.4 C.2.2.2.4) against a reference that cannot backtrack.</summary>
[Collection("Bounds")]
public sealed class WildcardPatternTests
{
    /// <summary>The reference: the pattern as a regex, run by .NET's non-backtracking engine (linear, but slow to build).</summary>
    private static bool Reference(string value, string pattern, bool ignoreCase) =>
        new Regex("^" + Regex.Escape(pattern).Replace("\\*", ".*").Replace("\\?", ".") + "$",
            RegexOptions.NonBacktracking | RegexOptions.Singleline | RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : 0)).IsMatch(value);

    [Theory]
    [InlineData("DOE^JOHN", "DOE*", true)]
    [InlineData("DOE^JOHN", "*JOHN", true)]
    [InlineData("DOE^JOHN", "D?E^*", true)]
    [InlineData("DOE^JOHN", "DOE", false)]
    [InlineData("DOE", "DOE*", true)]
    [InlineData("", "*", true)]
    [InlineData("", "?", false)]
    [InlineData("AB", "A*B*", true)]
    [InlineData("ABA", "*A*A", true)]
    [InlineData("AA", "*A*A*A", false)]
    [InlineData("doe", "DOE", false)]
    [InlineData("a.b", "a?b", true)]
    [InlineData("a+b", "a+b", true)]
    public void Matches_as_the_standard_says(string value, string pattern, bool expected)
    {
        Assert.Equal(expected, new WildcardPattern(pattern, ignoreCase: false).IsMatch(value));
        Assert.Equal(expected, Reference(value, pattern, ignoreCase: false));
    }

    [Fact]
    public void Agrees_with_the_reference_on_many_random_cases_both_ways_of_case()
    {
        var rng = new Random(15);
        const string valueAlphabet = "aAbB^ ";
        const string patternAlphabet = "aAbB^ *?**";
        for (var i = 0; i < 5_000; i++)
        {
            var value = Random(rng, valueAlphabet, rng.Next(0, 12));
            // Long pieces too, past one 64-bit word of the bit-parallel search.
            var pattern = i % 50 == 0 ? "*" + new string('a', 70) + "?" + new string('a', 10) + "*" : Random(rng, patternAlphabet, rng.Next(0, 8));
            if (i % 50 == 0) value = Random(rng, "aab", rng.Next(0, 5)) + new string('a', 81 + rng.Next(0, 3)) + Random(rng, "ab", rng.Next(0, 4));
            foreach (var ignoreCase in new[] { false, true })
                Assert.True(Reference(value, pattern, ignoreCase) == new WildcardPattern(pattern, ignoreCase).IsMatch(value),
                    $"\"{value}\" against \"{pattern}\" (ignoreCase {ignoreCase})");
        }
    }

    private static string Random(Random rng, string alphabet, int length)
    {
        var sb = new StringBuilder(length);
        for (var i = 0; i < length; i++) sb.Append(alphabet[rng.Next(alphabet.Length)]);
        return sb.ToString();
    }

    /// <summary>The attack: a backtracking regex took 49 s on a 64-character value; this is linear.</summary>
    [Fact]
    public void The_attack_pattern_is_linear_even_on_a_megabyte_value()
    {
        var pattern = new WildcardPattern("*A*A*A*A*A*A*A*B", ignoreCase: false);
        var value = new string('A', 1 << 20) + "b";
        var watch = Stopwatch.StartNew();
        Assert.False(pattern.IsMatch(value));
        Assert.False(pattern.IsMatch(new string('A', 63) + "b"));
        Assert.True(watch.ElapsedMilliseconds < 500, $"{watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Routing_conditions_match_case_insensitively_and_fast()
    {
        Assert.True(RoutingService.Like("  trial 7 head ", "TRIAL 7*"));
        Assert.False(RoutingService.Like("TRIAL 8", "TRIAL 7*"));
        var watch = Stopwatch.StartNew();
        Assert.False(RoutingService.Like(new string('a', 10_000) + "c", "*A*A*A*A*A*A*A*A*A*A*B"));
        Assert.True(watch.ElapsedMilliseconds < 500, $"{watch.ElapsedMilliseconds} ms");
    }
}
