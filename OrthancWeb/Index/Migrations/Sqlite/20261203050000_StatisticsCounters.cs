using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrthancWeb.Index.Migrations.Sqlite
{
    /// <summary>
    /// /statistics without a scan of the index: the counts of each level and the attachments' sizes kept in
    /// "IndexCounters" by triggers (SQLite fires them for the cascade deletes of foreign keys too), so they stay exact
    /// whatever writes the index. Counting 1,000,000 instances took /statistics to 2 s. Not part of the EF model: no
    /// code writes the table, only the triggers; <see cref="IndexCounters"/> reads it.
    /// </summary>
    [DbContext(typeof(IndexDbContext))]
    [Migration("20261203050000_StatisticsCounters")]
    public partial class StatisticsCounters : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE TABLE "IndexCounters" ("Name" TEXT NOT NULL CONSTRAINT "PK_IndexCounters" PRIMARY KEY, "Value" INTEGER NOT NULL);
                INSERT INTO "IndexCounters" ("Name", "Value") VALUES
                    ('Resources0', (SELECT count(*) FROM "Resources" WHERE "Level" = 0)),
                    ('Resources1', (SELECT count(*) FROM "Resources" WHERE "Level" = 1)),
                    ('Resources2', (SELECT count(*) FROM "Resources" WHERE "Level" = 2)),
                    ('Resources3', (SELECT count(*) FROM "Resources" WHERE "Level" = 3)),
                    ('CompressedSize', (SELECT coalesce(sum("CompressedSize"), 0) FROM "Attachments")),
                    ('UncompressedSize', (SELECT coalesce(sum("UncompressedSize"), 0) FROM "Attachments"));
                CREATE TRIGGER "IndexCounters_ResourceAdded" AFTER INSERT ON "Resources" BEGIN
                    UPDATE "IndexCounters" SET "Value" = "Value" + 1 WHERE "Name" = 'Resources' || NEW."Level";
                END;
                CREATE TRIGGER "IndexCounters_ResourceRemoved" AFTER DELETE ON "Resources" BEGIN
                    UPDATE "IndexCounters" SET "Value" = "Value" - 1 WHERE "Name" = 'Resources' || OLD."Level";
                END;
                CREATE TRIGGER "IndexCounters_AttachmentAdded" AFTER INSERT ON "Attachments" BEGIN
                    UPDATE "IndexCounters" SET "Value" = "Value" + NEW."CompressedSize" WHERE "Name" = 'CompressedSize';
                    UPDATE "IndexCounters" SET "Value" = "Value" + NEW."UncompressedSize" WHERE "Name" = 'UncompressedSize';
                END;
                CREATE TRIGGER "IndexCounters_AttachmentRemoved" AFTER DELETE ON "Attachments" BEGIN
                    UPDATE "IndexCounters" SET "Value" = "Value" - OLD."CompressedSize" WHERE "Name" = 'CompressedSize';
                    UPDATE "IndexCounters" SET "Value" = "Value" - OLD."UncompressedSize" WHERE "Name" = 'UncompressedSize';
                END;
                CREATE TRIGGER "IndexCounters_AttachmentChanged" AFTER UPDATE OF "CompressedSize", "UncompressedSize" ON "Attachments" BEGIN
                    UPDATE "IndexCounters" SET "Value" = "Value" + NEW."CompressedSize" - OLD."CompressedSize" WHERE "Name" = 'CompressedSize';
                    UPDATE "IndexCounters" SET "Value" = "Value" + NEW."UncompressedSize" - OLD."UncompressedSize" WHERE "Name" = 'UncompressedSize';
                END;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER "IndexCounters_ResourceAdded";
                DROP TRIGGER "IndexCounters_ResourceRemoved";
                DROP TRIGGER "IndexCounters_AttachmentAdded";
                DROP TRIGGER "IndexCounters_AttachmentRemoved";
                DROP TRIGGER "IndexCounters_AttachmentChanged";
                DROP TABLE "IndexCounters";
                """);
        }
    }
}
