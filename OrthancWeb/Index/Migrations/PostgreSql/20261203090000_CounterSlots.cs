using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrthancWeb.Index.Migrations.PostgreSql
{
    /// <summary>
    /// The statistics counters spread over 64 rows per counter: a transaction adds to the row of its session
    /// (pg_backend_pid() % 64), and "IndexCounters" becomes a view summing them, read as before. With one row per
    /// counter, every writer's first insert locked that row until its commit, so two servers sharing the index stored
    /// one instance at a time between them: PostgreSQL spent 16-22 s of a 1,300-instance two-server run waiting on it,
    /// 1.4-1.7 s with the rows spread (benchmarks/postgresql-benchmark.sh, README). Totals stay exact: every change is
    /// still made in the writing transaction.
    /// </summary>
    [DbContext(typeof(IndexDbContext))]
    [Migration("20261203090000_CounterSlots")]
    public partial class CounterSlots : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE "IndexCounters" RENAME TO "IndexCounterSlots";
                ALTER TABLE "IndexCounterSlots" ADD COLUMN "Slot" integer NOT NULL DEFAULT 0;
                ALTER TABLE "IndexCounterSlots" DROP CONSTRAINT "PK_IndexCounters";
                ALTER TABLE "IndexCounterSlots" ADD CONSTRAINT "PK_IndexCounterSlots" PRIMARY KEY ("Name", "Slot");
                CREATE VIEW "IndexCounters" AS SELECT "Name", sum("Value")::bigint AS "Value" FROM "IndexCounterSlots" GROUP BY "Name";

                CREATE OR REPLACE FUNCTION "IndexCounters_ResourcesAdded"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO "IndexCounterSlots" AS c ("Name", "Slot", "Value")
                    SELECT 'Resources' || "Level", pg_backend_pid() % 64, count(*) FROM new_rows GROUP BY "Level"
                    ON CONFLICT ("Name", "Slot") DO UPDATE SET "Value" = c."Value" + excluded."Value";
                    RETURN NULL;
                END $$;
                CREATE OR REPLACE FUNCTION "IndexCounters_ResourcesRemoved"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO "IndexCounterSlots" AS c ("Name", "Slot", "Value")
                    SELECT 'Resources' || "Level", pg_backend_pid() % 64, -count(*) FROM old_rows GROUP BY "Level"
                    ON CONFLICT ("Name", "Slot") DO UPDATE SET "Value" = c."Value" + excluded."Value";
                    RETURN NULL;
                END $$;
                CREATE OR REPLACE FUNCTION "IndexCounters_AttachmentsAdded"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO "IndexCounterSlots" AS c ("Name", "Slot", "Value")
                    SELECT v.name, pg_backend_pid() % 64, v.value FROM (VALUES
                        ('CompressedSize', (SELECT coalesce(sum("CompressedSize"), 0) FROM new_rows)),
                        ('UncompressedSize', (SELECT coalesce(sum("UncompressedSize"), 0) FROM new_rows))) v(name, value)
                    ON CONFLICT ("Name", "Slot") DO UPDATE SET "Value" = c."Value" + excluded."Value";
                    RETURN NULL;
                END $$;
                CREATE OR REPLACE FUNCTION "IndexCounters_AttachmentsRemoved"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO "IndexCounterSlots" AS c ("Name", "Slot", "Value")
                    SELECT v.name, pg_backend_pid() % 64, -v.value FROM (VALUES
                        ('CompressedSize', (SELECT coalesce(sum("CompressedSize"), 0) FROM old_rows)),
                        ('UncompressedSize', (SELECT coalesce(sum("UncompressedSize"), 0) FROM old_rows))) v(name, value)
                    ON CONFLICT ("Name", "Slot") DO UPDATE SET "Value" = c."Value" + excluded."Value";
                    RETURN NULL;
                END $$;
                CREATE OR REPLACE FUNCTION "IndexCounters_AttachmentsChanged"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO "IndexCounterSlots" AS c ("Name", "Slot", "Value")
                    SELECT v.name, pg_backend_pid() % 64, v.value FROM (VALUES
                        ('CompressedSize', (SELECT coalesce(sum("CompressedSize"), 0) FROM new_rows) - (SELECT coalesce(sum("CompressedSize"), 0) FROM old_rows)),
                        ('UncompressedSize', (SELECT coalesce(sum("UncompressedSize"), 0) FROM new_rows) - (SELECT coalesce(sum("UncompressedSize"), 0) FROM old_rows))) v(name, value)
                    ON CONFLICT ("Name", "Slot") DO UPDATE SET "Value" = c."Value" + excluded."Value";
                    RETURN NULL;
                END $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP VIEW "IndexCounters";
                CREATE TABLE "IndexCounters" ("Name" text COLLATE "C" NOT NULL CONSTRAINT "PK_IndexCounters" PRIMARY KEY, "Value" bigint NOT NULL);
                INSERT INTO "IndexCounters" SELECT "Name", sum("Value") FROM "IndexCounterSlots" GROUP BY "Name";
                DROP TABLE "IndexCounterSlots";
                CREATE OR REPLACE FUNCTION "IndexCounters_ResourcesAdded"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE "IndexCounters" c SET "Value" = c."Value" + n.count
                    FROM (SELECT 'Resources' || "Level" AS name, count(*) AS count FROM new_rows GROUP BY "Level") n WHERE c."Name" = n.name;
                    RETURN NULL;
                END $$;
                CREATE OR REPLACE FUNCTION "IndexCounters_ResourcesRemoved"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE "IndexCounters" c SET "Value" = c."Value" - n.count
                    FROM (SELECT 'Resources' || "Level" AS name, count(*) AS count FROM old_rows GROUP BY "Level") n WHERE c."Name" = n.name;
                    RETURN NULL;
                END $$;
                CREATE OR REPLACE FUNCTION "IndexCounters_AttachmentsAdded"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE "IndexCounters" c SET "Value" = c."Value" + CASE c."Name" WHEN 'CompressedSize' THEN n.compressed ELSE n.uncompressed END
                    FROM (SELECT coalesce(sum("CompressedSize"), 0) AS compressed, coalesce(sum("UncompressedSize"), 0) AS uncompressed FROM new_rows) n
                    WHERE c."Name" IN ('CompressedSize', 'UncompressedSize');
                    RETURN NULL;
                END $$;
                CREATE OR REPLACE FUNCTION "IndexCounters_AttachmentsRemoved"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE "IndexCounters" c SET "Value" = c."Value" - CASE c."Name" WHEN 'CompressedSize' THEN n.compressed ELSE n.uncompressed END
                    FROM (SELECT coalesce(sum("CompressedSize"), 0) AS compressed, coalesce(sum("UncompressedSize"), 0) AS uncompressed FROM old_rows) n
                    WHERE c."Name" IN ('CompressedSize', 'UncompressedSize');
                    RETURN NULL;
                END $$;
                CREATE OR REPLACE FUNCTION "IndexCounters_AttachmentsChanged"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE "IndexCounters" c SET "Value" = c."Value" + CASE c."Name" WHEN 'CompressedSize' THEN n.compressed ELSE n.uncompressed END
                    FROM (SELECT (SELECT coalesce(sum("CompressedSize"), 0) FROM new_rows) - (SELECT coalesce(sum("CompressedSize"), 0) FROM old_rows) AS compressed,
                                 (SELECT coalesce(sum("UncompressedSize"), 0) FROM new_rows) - (SELECT coalesce(sum("UncompressedSize"), 0) FROM old_rows) AS uncompressed) n
                    WHERE c."Name" IN ('CompressedSize', 'UncompressedSize');
                    RETURN NULL;
                END $$;
                """);
        }
    }
}
