using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;

namespace OrthancWeb.Networking;

/// <summary>
/// Which transfer syntaxes the DICOM listener accepts for storage, and whether it takes SOP classes it does not know
/// (Orthanc's AcceptedTransferSyntaxes and UnknownSopClassAccepted). Read from the configuration at start-up; REST
/// changes them until the server stops, as Orthanc's /tools/accepted-transfer-syntaxes and
/// /tools/unknown-sop-class-accepted do.
/// </summary>
public sealed class DicomAcceptance
{
    /// <summary>Every transfer syntax the dictionary knows (PS3.6 Table A-1, retired ones too, as Orthanc lists them).</summary>
    public static IReadOnlyList<string> KnownSyntaxes { get; } =
        DicomUids.All.Where(u => u.IsTransferSyntax).Select(u => u.Uid).ToArray();

    private volatile HashSet<string> _accepted;
    private volatile bool _unknownSopClassAccepted;

    public DicomAcceptance(IOptions<DicomOptions> options)
    {
        _accepted = Matching(options.Value.AcceptedTransferSyntaxes is { Count: > 0 } configured ? configured : ["*"]);
        _unknownSopClassAccepted = options.Value.UnknownSopClassAccepted;
    }

    public IReadOnlyCollection<string> Accepted => _accepted;

    public bool UnknownSopClassAccepted
    {
        get => _unknownSopClassAccepted;
        set => _unknownSopClassAccepted = value;
    }

    /// <summary>Accepts the syntaxes the patterns match ("*" and "?" as in Orthanc: "1.2.840.10008.1.2.4.*").</summary>
    public void Accept(IEnumerable<string> patterns) => _accepted = Matching(patterns);

    public static HashSet<string> Matching(IEnumerable<string> patterns)
    {
        var compiled = patterns.Select(p => new WildcardPattern(p.Trim(), ignoreCase: false)).ToList();
        return KnownSyntaxes.Where(uid => compiled.Any(p => p.IsMatch(uid))).ToHashSet(StringComparer.Ordinal);
    }
}
