using Microsoft.EntityFrameworkCore;

namespace OrthancWeb.Index;

/// <summary>The DICOM index, one model for SQLite and PostgreSQL (see <see cref="IndexDatabase"/>).</summary>
public sealed class IndexDbContext(DbContextOptions<IndexDbContext> options) : DbContext(options)
{
    public DbSet<Resource> Resources => Set<Resource>();
    public DbSet<MainDicomTag> MainDicomTags => Set<MainDicomTag>();
    public DbSet<StudySortKey> StudySortKeys => Set<StudySortKey>();
    public DbSet<ResourceMetadata> Metadata => Set<ResourceMetadata>();
    public DbSet<Attachment> Attachments => Set<Attachment>();
    public DbSet<ResourceLabel> Labels => Set<ResourceLabel>();
    public DbSet<ChangeEntry> Changes => Set<ChangeEntry>();
    public DbSet<GlobalProperty> GlobalProperties => Set<GlobalProperty>();
    public DbSet<Measurement> Measurements => Set<Measurement>();
    public DbSet<InstanceJson> InstanceJson => Set<InstanceJson>();
    public DbSet<WorklistItem> WorklistItems => Set<WorklistItem>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Resource>(e =>
        {
            e.HasKey(r => r.Id);
            e.HasIndex(r => r.PublicId).IsUnique();
            e.HasIndex(r => new { r.Level, r.Id });
            e.HasIndex(r => r.ParentId);
            // The studies alone by patient, a few hundred pages however many series and instances the index holds: the
            // studies grid sorted or filtered by a patient's tag walks it, which the whole ParentId index made a random
            // read per patient. Studies only, so the ingest of an instance does not touch it.
            e.HasIndex(r => new { r.Level, r.ParentId }).HasFilter($"\"Level\" = {(int)ResourceLevel.Study}");
            e.HasIndex(r => new { r.Level, r.IsProtected, r.LastUpdate });
            e.HasIndex(r => new { r.IsStable, r.LastUpdate });
            e.Property(r => r.PublicId).HasMaxLength(44);
            e.HasOne(r => r.Parent).WithMany(r => r.Children).HasForeignKey(r => r.ParentId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<MainDicomTag>(e =>
        {
            e.HasKey(t => new { t.ResourceId, t.Tag });
            e.HasIndex(t => new { t.Tag, t.Value });
            // Unique because (ResourceId, Tag) is the key: SQLite then knows an ordered scan of it yields each resource
            // once, and walks it to page a grid sorted by a tag, ties by resource, without a sort step (ResourcePages).
            e.HasIndex(t => new { t.Tag, t.ValueUpper, t.ResourceId }).IsUnique();
            e.HasOne<Resource>().WithMany(r => r.Tags).HasForeignKey(t => t.ResourceId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<StudySortKey>(e =>
        {
            e.HasKey(k => new { k.ResourceId, k.Tag });
            // The studies grid's order (ResourcePages): value, then patient, then study. Unique, as the key makes it
            // anyway, so that SQLite knows each study comes once and walks it without a sort step.
            e.HasIndex(k => new { k.Tag, k.ValueUpper, k.ParentId, k.ResourceId }).IsUnique();
            e.HasOne<Resource>().WithMany().HasForeignKey(k => k.ResourceId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<ResourceMetadata>(e =>
        {
            e.HasKey(m => new { m.ResourceId, m.Name });
            // A default in the schema: the ingest path's own INSERTs (IndexRowWriter) name no revision.
            e.Property(m => m.Revision).HasDefaultValue(0L);
            e.HasOne<Resource>().WithMany(r => r.Metadata).HasForeignKey(m => m.ResourceId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<ResourceLabel>(e =>
        {
            e.HasKey(l => new { l.ResourceId, l.Label });
            // /tools/labels and a find by label walk the labels, not the resources.
            e.HasIndex(l => new { l.Label, l.ResourceId });
            e.Property(l => l.Label).HasMaxLength(Annotations.LabelName.MaximumLength);
            e.HasOne<Resource>().WithMany(r => r.Labels).HasForeignKey(l => l.ResourceId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<Attachment>(e =>
        {
            e.HasKey(a => new { a.ResourceId, a.ContentType });
            e.Property(a => a.Revision).HasDefaultValue(0L);
            e.HasIndex(a => a.Uuid).IsUnique();
            e.HasOne<Resource>().WithMany(r => r.Attachments).HasForeignKey(a => a.ResourceId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<ChangeEntry>(e =>
        {
            e.HasKey(c => c.Seq);
            e.Property(c => c.Seq).ValueGeneratedOnAdd();
        });
        modelBuilder.Entity<GlobalProperty>(e => e.HasKey(p => p.Name));
        modelBuilder.Entity<InstanceJson>(e =>
        {
            e.HasKey(j => j.ResourceId);
            e.HasOne<Resource>().WithOne().HasForeignKey<InstanceJson>(j => j.ResourceId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<Measurement>(e =>
        {
            e.HasKey(m => m.Id);
            e.HasIndex(m => new { m.InstanceId, m.UserId, m.Frame });
            e.HasIndex(m => m.UserId);
            e.Property(m => m.UserId).HasMaxLength(256);
            e.Property(m => m.Kind).HasMaxLength(16);
            e.Property(m => m.Points).HasMaxLength(512);
            // Gone with the instance: a deleted or recycled image takes its measurements with it.
            e.HasOne<Resource>().WithMany().HasForeignKey(m => m.InstanceId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<WorklistItem>(e =>
        {
            e.HasKey(w => w.Id);
            e.HasIndex(w => w.PublicId).IsUnique();
            e.Property(w => w.PublicId).HasMaxLength(36);
            // The page lists a day; an arriving series looks its study up by accession number and by UID.
            e.HasIndex(w => new { w.ScheduledDate, w.ScheduledTime });
            e.HasIndex(w => w.AccessionNumber);
            e.HasIndex(w => w.StudyInstanceUid);
        });
        if (Database.IsPostgreSql()) ForPostgreSql(modelBuilder);
    }

    /// <summary>
    /// What makes PostgreSQL answer as SQLite does. Text compares and sorts byte by byte (collation "C", SQLite's
    /// BINARY): the grids' order and the range matches of <see cref="IndexQueries"/> do not depend on the server's
    /// locale, and a LIKE 'ABC%' can walk a plain b-tree index. A time read back from SQLite carries no kind and is
    /// UTC by convention; PostgreSQL's timestamptz wants it said.
    /// </summary>
    private static void ForPostgreSql(ModelBuilder modelBuilder)
    {
        var utc = new Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<DateTime, DateTime>(
            v => v.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(v, DateTimeKind.Utc) : v.ToUniversalTime(), v => v);
        foreach (var property in modelBuilder.Model.GetEntityTypes().SelectMany(e => e.GetProperties()))
        {
            if (property.ClrType == typeof(string)) property.SetCollation("C");
            else if (property.ClrType == typeof(DateTime)) property.SetValueConverter(utc);
            else if (property.ClrType == typeof(DateTime?)) property.SetValueConverter(utc);
        }
    }
}
