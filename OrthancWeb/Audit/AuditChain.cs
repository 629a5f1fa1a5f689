using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OrthancWeb.Audit;

/// <summary>
/// The hash chain: each entry's hash covers the previous entry's hash and every field of its own, its sequence number
/// included, so that editing an entry breaks its own hash, and deleting or reordering entries breaks the link of the
/// next one. (What a chain alone cannot show, someone with write access rewriting the whole tail, the copy forwarded to
/// the hospital's syslog collector shows: see <see cref="SyslogForwarder"/>.)
/// </summary>
public static class AuditChain
{
    /// <summary>The previous hash of entry 1.</summary>
    public static readonly string Genesis = new('0', 64);

    /// <summary>
    /// The canonical form: version tag, then each field as its UTF-8 length, a colon and its bytes ("-" for null), in a
    /// fixed order. Length prefixes make it unambiguous whatever the fields contain.
    /// </summary>
    public static string Canonical(AuditEntry e)
    {
        var sb = new StringBuilder("OWA1");
        void Field(string? value)
        {
            if (value is null) { sb.Append('|').Append('-'); return; }
            sb.Append('|').Append(Encoding.UTF8.GetByteCount(value).ToString(CultureInfo.InvariantCulture)).Append(':').Append(value);
        }
        Field(e.Id.ToString(CultureInfo.InvariantCulture));
        Field(e.Time.Ticks.ToString(CultureInfo.InvariantCulture));
        Field(e.Action);
        Field(((int)e.Outcome).ToString(CultureInfo.InvariantCulture));
        Field(e.User);
        Field(e.Address);
        Field(e.Source);
        Field(e.PatientId);
        Field(e.ResourceLevel);
        Field(e.ResourceId);
        Field(e.StudyInstanceUid);
        Field(e.Details);
        return sb.ToString();
    }

    public static string ComputeHash(string previousHash, AuditEntry e)
    {
        var bytes = Encoding.UTF8.GetBytes(previousHash + "\n" + Canonical(e));
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    /// <summary>Links <paramref name="e"/> after (<paramref name="previousId"/>, <paramref name="previousHash"/>).</summary>
    public static void Seal(AuditEntry e, long previousId, string previousHash)
    {
        e.Id = previousId + 1;
        e.PreviousHash = previousHash;
        e.Hash = ComputeHash(previousHash, e);
    }

    /// <summary>
    /// Checks one entry against what came before it; null when it holds, else why not (the first broken link is the
    /// one to report: everything after it is no longer vouched for).
    /// </summary>
    public static string? Check(AuditEntry e, long previousId, string previousHash)
    {
        if (e.Id != previousId + 1)
            return e.Id > previousId + 1
                ? $"entries {previousId + 1}..{e.Id - 1} are missing"
                : $"entry {e.Id} is out of sequence after {previousId}";
        if (!string.Equals(e.PreviousHash, previousHash, StringComparison.Ordinal))
            return $"entry {e.Id} does not link to entry {previousId} (an entry before it was changed, removed or moved)";
        if (!string.Equals(e.Hash, ComputeHash(previousHash, e), StringComparison.Ordinal))
            return $"entry {e.Id} was changed after it was recorded";
        return null;
    }

    /// <summary>UTC, truncated to whole microseconds: what SQLite and PostgreSQL both store exactly.</summary>
    public static DateTime Normalize(DateTimeOffset time)
    {
        var utc = time.UtcDateTime;
        return new DateTime(utc.Ticks - utc.Ticks % 10, DateTimeKind.Utc);
    }
}

/// <summary>The result of walking the chain.</summary>
public sealed record AuditVerification(bool Intact, long Checked, long FirstId, long LastId, long? FirstBrokenId, string? Problem)
{
    public string Summary => Intact
        ? Checked == 0 ? "The audit trail is empty." : $"The audit trail is intact: entries {FirstId} to {LastId} ({Checked}) verified."
        : $"The audit trail is broken at entry {FirstBrokenId}: {Problem}.";
}
