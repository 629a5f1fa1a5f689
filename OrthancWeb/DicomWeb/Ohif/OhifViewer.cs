using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using OrthancWeb.Hosting;

namespace OrthancWeb.DicomWeb.Ohif;

/// <summary>
/// Where OHIF's built viewer is, whether it can be served, and the links into it. Resolved once at start-up: the
/// bundle is fetched by the build and does not change while the server runs.
/// </summary>
public sealed partial class OhifViewer
{
    /// <summary>Where OHIF is served. The build rewrites the bundle's webpack publicPath to the same (OhifPublicPath).</summary>
    public const string BasePath = "/ohif";

    /// <summary>The version the build fetches (OrthancWeb.csproj's OhifVersion), recorded in the assembly.</summary>
    public static string Version { get; } = Metadata("OhifVersion") ?? "unknown";

    public OhifViewer(IOptions<OhifOptions> options, DataPaths paths)
    {
        var o = options.Value;
        if (!o.OhifEnabled)
        {
            Reason = "turned off by OrthancWeb:OhifEnabled";
            return;
        }
        string[] candidates = o.OhifPath.Length > 0
            ? [Path.GetFullPath(o.OhifPath, paths.ConfigurationFolder)]
            : [Path.Combine(AppContext.BaseDirectory, "ohif"), .. Metadata("OhifBundle") is { } built ? new[] { built } : []];
        BundleDirectory = candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "index.html")));
        if (BundleDirectory is null)
        {
            Reason = o.OhifPath.Length > 0
                ? $"OrthancWeb:OhifPath ({candidates[0]}) holds no index.html"
                : $"OHIF {Version} is not in {string.Join(" nor ", candidates)}: the build could not fetch it (its warning OHIF001 says why; the next build tries again)";
            return;
        }
        try
        {
            IndexTemplate = RebaseIndex(File.ReadAllText(Path.Combine(BundleDirectory, "index.html")));
        }
        catch (IOException e)
        {
            (BundleDirectory, Reason) = (null, $"OHIF's index.html could not be read: {e.Message}");
        }
    }

    public bool IsAvailable => BundleDirectory is not null;

    /// <summary>The folder served under /ohif/, when available.</summary>
    public string? BundleDirectory { get; }

    /// <summary>Why OHIF is not available (null when it is).</summary>
    public string? Reason { get; }

    /// <summary>OHIF's index.html served under /ohif/, with <see cref="Security.SecurityHeaderOptions.NoncePlaceholder"/> on its inline scripts.</summary>
    internal string IndexTemplate { get; } = "";

    /// <summary>OHIF's viewer on one study (its default mode's route; the data source is ours, see OhifAppConfig).</summary>
    public static string StudyUrl(string studyInstanceUid) => $"{BasePath}/viewer?StudyInstanceUIDs={Uri.EscapeDataString(studyInstanceUid)}";

    /// <summary>
    /// OHIF's index.html names its files from the site's root ("/app.bundle.js", window.PUBLIC_URL = "/"): served under
    /// /ohif/ they are there. Its two inline scripts get the response's nonce, so that /ohif's policy needs no 'unsafe-inline'.
    /// </summary>
    internal static string RebaseIndex(string html)
    {
        html = html.Replace("window.PUBLIC_URL=\"/\"", $"window.PUBLIC_URL=\"{BasePath}/\"", StringComparison.Ordinal);
        html = RootReference().Replace(html, m => $"{m.Groups[1].Value}=\"{BasePath}/");
        return InlineScript().Replace(html, $"<script nonce=\"{Security.SecurityHeaderOptions.NoncePlaceholder}\">");
    }

    /// <summary>An attribute naming a file from the site's root ("/x", never "//host/x").</summary>
    [GeneratedRegex("""\b(href|src|content)="/(?!/)""")]
    private static partial Regex RootReference();

    [GeneratedRegex("<script>")]
    private static partial Regex InlineScript();

    private static string? Metadata(string key) =>
        typeof(OhifViewer).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;
}
