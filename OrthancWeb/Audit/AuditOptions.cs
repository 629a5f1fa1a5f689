using System.ComponentModel.DataAnnotations;

namespace OrthancWeb.Audit;

/// <summary>The "Audit" section of appsettings.json: the trail's store, its retention and its copy to syslog.</summary>
public sealed class AuditOptions
{
    public const string Section = "Audit";

    /// <summary>False records nothing (for benchmarks and test rigs only: a hospital keeps it on).</summary>
    public bool AuditEnabled { get; set; } = true;

    /// <summary>Entries older than this many days are pruned, a chain anchor keeping the rest verifiable; 0 keeps all.</summary>
    [Range(0, 36500)]
    public int AuditRetentionDays { get; set; }

    /// <summary>
    /// Events waiting for the writer. Past this, an event is not queued but counted, logged, and recorded as one
    /// "AuditGap" entry as soon as the writer catches up: the caller (a C-STORE) is never held up by the disk.
    /// </summary>
    [Range(1000, 10_000_000)]
    public int AuditQueueCapacity { get; set; } = 100_000;

    /// <summary>The hospital's log collector, "host:port"; empty forwards nothing.</summary>
    [RegularExpression(@"^$|^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):\d{1,5}$", ErrorMessage = "AuditSyslogServer must be host:port")]
    public string AuditSyslogServer { get; set; } = "";

    /// <summary>UDP (RFC 5426) or TCP with octet counting (RFC 6587 3.4.1).</summary>
    [RegularExpression("^(?i)(udp|tcp)$", ErrorMessage = "AuditSyslogProtocol must be UDP or TCP")]
    public string AuditSyslogProtocol { get; set; } = "UDP";

    /// <summary>Dicom: each message carries a PS3.15 A.5 audit message (XML); Text: one compact line.</summary>
    [RegularExpression("^(?i)(dicom|text)$", ErrorMessage = "AuditSyslogFormat must be Dicom or Text")]
    public string AuditSyslogFormat { get; set; } = "Dicom";

    /// <summary>AuditSourceID of the DICOM audit messages (PS3.15 A.5.1); empty: the server's Name.</summary>
    public string AuditSourceId { get; set; } = "";
}
