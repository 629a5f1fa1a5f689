using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrthancWeb.Index.Migrations.PostgreSql
{
    /// <summary>
    /// The studies grid sorted by a patient's name or ID straight from one index: each study gets a copy of its
    /// patient's PatientName and PatientID (upper case, as MainDicomTags.ValueUpper) with the patient's row ID, so
    /// that the grid's order (value, patient, study) is one index walked in order. Kept by triggers in the transaction
    /// that writes the study, the patient's tags (ingest, an overwrite, a reconstruction) or a study's parent, whatever
    /// writes them; a deleted study takes its rows by cascade. Existing indexes are filled here. The tag numbers are
    /// PatientName (0010,0010) and PatientID (0010,0020), as StudySortKey.Tags; level 1 is a study, written as a
    /// constant so that SQLite uses the partial index of the studies by patient. Row triggers with a
    /// WHEN condition: an instance's rows are checked by the condition alone, without a call.
    /// </summary>
    public partial class StudySortKeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "StudySortKeys",
                columns: table => new
                {
                    ResourceId = table.Column<long>(type: "bigint", nullable: false),
                    Tag = table.Column<int>(type: "integer", nullable: false),
                    ValueUpper = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    ParentId = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_StudySortKeys", x => new { x.ResourceId, x.Tag });
                    table.ForeignKey(
                        name: "FK_StudySortKeys_Resources_ResourceId",
                        column: x => x.ResourceId,
                        principalTable: "Resources",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_StudySortKeys_Tag_ValueUpper_ParentId_ResourceId",
                table: "StudySortKeys",
                columns: new[] { "Tag", "ValueUpper", "ParentId", "ResourceId" },
                unique: true);

            migrationBuilder.Sql("""
                INSERT INTO "StudySortKeys" ("ResourceId", "Tag", "ValueUpper", "ParentId")
                SELECT s."Id", t."Tag", t."ValueUpper", t."ResourceId" FROM "MainDicomTags" t
                JOIN "Resources" s ON s."ParentId" = t."ResourceId" AND s."Level" = 1
                WHERE t."Tag" IN (1048592, 1048608);

                CREATE FUNCTION "StudySortKeys_StudyChanged"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'UPDATE' THEN
                        DELETE FROM "StudySortKeys" WHERE "ResourceId" = NEW."Id";
                    END IF;
                    INSERT INTO "StudySortKeys" ("ResourceId", "Tag", "ValueUpper", "ParentId")
                    SELECT NEW."Id", "Tag", "ValueUpper", "ResourceId" FROM "MainDicomTags" WHERE "ResourceId" = NEW."ParentId" AND "Tag" IN (1048592, 1048608);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER "StudySortKeys_StudyAdded" AFTER INSERT ON "Resources"
                    FOR EACH ROW WHEN (NEW."Level" = 1) EXECUTE FUNCTION "StudySortKeys_StudyChanged"();
                CREATE TRIGGER "StudySortKeys_StudyMoved" AFTER UPDATE OF "ParentId" ON "Resources"
                    FOR EACH ROW WHEN (NEW."Level" = 1 AND NEW."ParentId" IS DISTINCT FROM OLD."ParentId") EXECUTE FUNCTION "StudySortKeys_StudyChanged"();

                -- The patient's row is locked first: a study another transaction is adding to this patient either
                -- committed before (its row is then seen here and re-keyed) or waits, in its foreign key check, for
                -- this transaction to commit (and then reads the new tags). Without it, a study added meanwhile kept
                -- the old value. Only an overwrite or a reconstruction changes the tags of an existing patient.
                CREATE FUNCTION "StudySortKeys_PatientTagChanged"() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN
                        PERFORM 1 FROM "Resources" WHERE "Id" = OLD."ResourceId" FOR UPDATE;
                        DELETE FROM "StudySortKeys" k USING "Resources" s
                        WHERE s."ParentId" = OLD."ResourceId" AND s."Level" = 1 AND k."ResourceId" = s."Id" AND k."Tag" = OLD."Tag";
                    END IF;
                    IF TG_OP <> 'DELETE' AND NEW."Tag" IN (1048592, 1048608) THEN
                        PERFORM 1 FROM "Resources" WHERE "Id" = NEW."ResourceId" FOR UPDATE;
                        INSERT INTO "StudySortKeys" ("ResourceId", "Tag", "ValueUpper", "ParentId")
                        SELECT "Id", NEW."Tag", NEW."ValueUpper", NEW."ResourceId" FROM "Resources" WHERE "ParentId" = NEW."ResourceId" AND "Level" = 1;
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER "StudySortKeys_TagAdded" AFTER INSERT ON "MainDicomTags"
                    FOR EACH ROW WHEN (NEW."Tag" IN (1048592, 1048608)) EXECUTE FUNCTION "StudySortKeys_PatientTagChanged"();
                CREATE TRIGGER "StudySortKeys_TagRemoved" AFTER DELETE ON "MainDicomTags"
                    FOR EACH ROW WHEN (OLD."Tag" IN (1048592, 1048608)) EXECUTE FUNCTION "StudySortKeys_PatientTagChanged"();
                CREATE TRIGGER "StudySortKeys_TagChanged" AFTER UPDATE ON "MainDicomTags"
                    FOR EACH ROW WHEN (OLD."Tag" IN (1048592, 1048608) OR NEW."Tag" IN (1048592, 1048608)) EXECUTE FUNCTION "StudySortKeys_PatientTagChanged"();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER "StudySortKeys_StudyAdded" ON "Resources";
                DROP TRIGGER "StudySortKeys_StudyMoved" ON "Resources";
                DROP TRIGGER "StudySortKeys_TagAdded" ON "MainDicomTags";
                DROP TRIGGER "StudySortKeys_TagRemoved" ON "MainDicomTags";
                DROP TRIGGER "StudySortKeys_TagChanged" ON "MainDicomTags";
                DROP FUNCTION "StudySortKeys_StudyChanged"();
                DROP FUNCTION "StudySortKeys_PatientTagChanged"();
                """);
            migrationBuilder.DropTable(
                name: "StudySortKeys");
        }
    }
}
