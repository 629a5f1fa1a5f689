using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using OrthancWeb.Index;

namespace OrthancWeb.Tests.Index;

/// <summary>The ingest path's raw SQL follows the EF model: the model is the one source of truth for table and column names.</summary>
public sealed class IndexSchemaTests
{
    /// <summary>The index's own model, then every table and several columns renamed, as a later change might.</summary>
    private sealed class RenamedSchema(ModelCustomizerDependencies dependencies) : ModelCustomizer(dependencies)
    {
        public override void Customize(ModelBuilder modelBuilder, DbContext context)
        {
            base.Customize(modelBuilder, context);
            modelBuilder.Entity<Resource>().ToTable("Nodes");
            modelBuilder.Entity<Resource>().Property(r => r.LastUpdate).HasColumnName("Updated");
            modelBuilder.Entity<Resource>().Property(r => r.PublicId).HasColumnName("OrthancId");
            modelBuilder.Entity<MainDicomTag>().ToTable("Tags").Property(t => t.ValueUpper).HasColumnName("Upper");
            modelBuilder.Entity<ResourceMetadata>().ToTable("Meta").Property(m => m.Name).HasColumnName("Key");
            modelBuilder.Entity<Attachment>().ToTable("Files").Property(a => a.Checksum).HasColumnName("Xxh128");
            modelBuilder.Entity<ChangeEntry>().ToTable("Log").Property(c => c.Seq).HasColumnName("Number");
            modelBuilder.Entity<GlobalProperty>().ToTable("Properties").Property(p => p.Value).HasColumnName("Text");
        }
    }

    [Fact]
    public async Task The_row_writer_writes_to_the_tables_and_columns_the_model_names()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        var options = new DbContextOptionsBuilder<IndexDbContext>()
            .UseSqlite(connection)
            .ReplaceService<IModelCustomizer, RenamedSchema>()
            .Options;
        await using var db = new IndexDbContext(options);
        await db.Database.EnsureCreatedAsync();
        Assert.Equal("Nodes", db.Model.FindEntityType(typeof(Resource))!.GetTableName());

        var now = new DateTime(2026, 1, 5, 8, 0, 0, DateTimeKind.Utc);
        using (var rows = new IndexRowWriter(db))
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            rows.UseCurrentTransaction();
            var patient = await rows.ResourceAsync(ResourceLevel.Patient, "patient-1", null, now, isStable: false, default);
            Assert.Equal(patient, await rows.IdAsync("patient-1", default));
            await rows.TagsAsync(patient, [(0x00100010, "Doe^Jane"), (0x00100020, "P1")], default);
            await rows.ClearTagsAsync(patient, default);
            await rows.TagsAsync(patient, [(0x00100010, "Doe^John")], default);
            await rows.TouchAsync(patient, now.AddMinutes(1), default);
            var instance = await rows.ResourceAsync(ResourceLevel.Instance, "instance-1", patient, now, isStable: true, default);
            await rows.MetadataAsync(instance, [("Origin", "RestApi"), ("IndexInSeries", "1")], default);
            await rows.AttachmentAsync(instance, new Attachment { ContentType = 1, Uuid = "uuid-1", UncompressedSize = 10, CompressedSize = 10, Checksum = "c" }, default);
            await rows.ChangeAsync("NewInstance", ResourceLevel.Instance, "instance-1", now, default);
            await rows.SetPropertyAsync("DurableChangeSeq", "0", default);
            await rows.SetPropertyAsync("DurableChangeSeq", "1", default);
            Assert.Equal(1, rows.MaxChangeSeq);
            await tx.CommitAsync();
        }

        // Read back through the renamed model.
        var p = await db.Resources.AsNoTracking().SingleAsync(r => r.PublicId == "patient-1");
        Assert.Equal(now.AddMinutes(1), p.LastUpdate);
        Assert.Equal("DOE^JOHN", (await db.MainDicomTags.SingleAsync()).ValueUpper);
        Assert.Equal(2, await db.Metadata.CountAsync());
        Assert.Equal("c", (await db.Attachments.SingleAsync()).Checksum);
        Assert.Equal("instance-1", (await db.Changes.SingleAsync()).PublicId);
        Assert.Equal("1", (await db.GlobalProperties.SingleAsync()).Value);
    }

    [Fact]
    public void The_statements_name_the_index_models_tables_and_columns()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        using var db = new IndexDbContext(new DbContextOptionsBuilder<IndexDbContext>().UseSqlite(connection).Options);
        var schema = new IndexSchema(db);
        var resources = db.Model.FindEntityType(typeof(Resource))!;
        Assert.StartsWith($"INSERT INTO \"{resources.GetTableName()}\" (\"Level\", \"PublicId\", \"ParentId\", \"LastUpdate\", \"IsStable\", \"IsProtected\")", schema.InsertResource);
        Assert.Equal("""SELECT "Id" FROM "Resources" WHERE "PublicId" = @publicId""", schema.SelectResourceId);
        Assert.Equal("""INSERT INTO "GlobalProperties" ("Name", "Value") VALUES (@name, @value) ON CONFLICT ("Name") DO UPDATE SET "Value" = excluded."Value" """.TrimEnd(), schema.UpsertProperty);
    }
}
