using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace OrthancWeb.Audit;

/// <summary>
/// One entry of the stored trail: the event, its place in the sequence, and the hash chain that makes any later edit,
/// deletion or reordering visible (<see cref="AuditChain"/>).
/// </summary>
public sealed class AuditEntry
{
    /// <summary>The entry's place in the chain: 1, 2, 3, ... assigned by the writer (never by the database), hashed.</summary>
    public long Id { get; set; }

    /// <summary>When the event was recorded (UTC, whole microseconds so that every provider stores it exactly).</summary>
    public DateTime Time { get; set; }

    public string Action { get; set; } = "";
    public AuditOutcome Outcome { get; set; }
    public string? User { get; set; }
    public string? Address { get; set; }
    public string Source { get; set; } = AuditSources.Server;
    public string? PatientId { get; set; }
    public string? ResourceLevel { get; set; }
    public string? ResourceId { get; set; }
    public string? StudyInstanceUid { get; set; }
    public string? Details { get; set; }

    /// <summary>SHA-256 (hex) of the previous entry, or of the anchor for the first one after pruning; 64 zeros for entry 1.</summary>
    public string PreviousHash { get; set; } = "";

    /// <summary>SHA-256 (hex) of <see cref="PreviousHash"/> and this entry's canonical form.</summary>
    public string Hash { get; set; } = "";
}

/// <summary>
/// What remains of pruned entries: the id and hash of the last one removed, so that the first kept entry still links
/// to something and verification starts there.
/// </summary>
public sealed class AuditAnchor
{
    public int Id { get; set; } = 1;
    public long LastPrunedId { get; set; }
    public string LastPrunedHash { get; set; } = "";
    public DateTime PrunedAt { get; set; }
    public long PrunedCount { get; set; }
}

/// <summary>The audit trail's own database (audit.db), apart from the index so that each can move provider on its own.</summary>
public sealed class AuditDbContext(DbContextOptions<AuditDbContext> options) : DbContext(options)
{
    public DbSet<AuditEntry> Entries => Set<AuditEntry>();
    public DbSet<AuditAnchor> Anchors => Set<AuditAnchor>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var entry = modelBuilder.Entity<AuditEntry>();
        entry.Property(e => e.Id).ValueGeneratedNever();
        entry.Property(e => e.Action).HasMaxLength(64);
        entry.Property(e => e.Outcome).HasConversion<int>();
        entry.Property(e => e.User).HasMaxLength(256);
        entry.Property(e => e.Address).HasMaxLength(64);
        entry.Property(e => e.Source).HasMaxLength(16);
        entry.Property(e => e.PatientId).HasMaxLength(256);
        entry.Property(e => e.ResourceLevel).HasMaxLength(32);
        entry.Property(e => e.ResourceId).HasMaxLength(128);
        entry.Property(e => e.StudyInstanceUid).HasMaxLength(64);
        entry.Property(e => e.PreviousHash).HasMaxLength(64);
        entry.Property(e => e.Hash).HasMaxLength(64);
        // The browse page's filters.
        entry.HasIndex(e => e.Time);
        entry.HasIndex(e => new { e.User, e.Id });
        entry.HasIndex(e => new { e.PatientId, e.Id });
        entry.HasIndex(e => new { e.Action, e.Id });
        modelBuilder.Entity<AuditAnchor>().Property(a => a.Id).ValueGeneratedNever();
        modelBuilder.Entity<AuditAnchor>().Property(a => a.LastPrunedHash).HasMaxLength(64);
    }
}

/// <summary>Lets `dotnet ef migrations add` build the audit context without starting the server.</summary>
public sealed class AuditDbContextDesignFactory : IDesignTimeDbContextFactory<AuditDbContext>
{
    public AuditDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<AuditDbContext>().UseSqlite("Data Source=design-audit.db").Options);
}
