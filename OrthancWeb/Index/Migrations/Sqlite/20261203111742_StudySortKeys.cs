using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrthancWeb.Index.Migrations.Sqlite
{
    /// <summary>
    /// The studies grid sorted by a patient's name or ID straight from one index: each study gets a copy of its
    /// patient's PatientName and PatientID (upper case, as MainDicomTags.ValueUpper) with the patient's row ID, so
    /// that the grid's order (value, patient, study) is one index walked in order. Kept by triggers in the transaction
    /// that writes the study, the patient's tags (ingest, an overwrite, a reconstruction) or a study's parent, whatever
    /// writes them; a deleted study takes its rows by cascade. Existing indexes are filled here. The tag numbers are
    /// PatientName (0010,0010) and PatientID (0010,0020), as StudySortKey.Tags; level 1 is a study, written as a
    /// constant so that SQLite uses the partial index of the studies by patient. SQLite fires
    /// triggers for the cascades of foreign keys too.
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
                    ResourceId = table.Column<long>(type: "INTEGER", nullable: false),
                    Tag = table.Column<int>(type: "INTEGER", nullable: false),
                    ValueUpper = table.Column<string>(type: "TEXT", nullable: false),
                    ParentId = table.Column<long>(type: "INTEGER", nullable: false)
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
                CREATE TRIGGER "StudySortKeys_StudyAdded" AFTER INSERT ON "Resources" WHEN NEW."Level" = 1 BEGIN
                    INSERT INTO "StudySortKeys" ("ResourceId", "Tag", "ValueUpper", "ParentId")
                    SELECT NEW."Id", "Tag", "ValueUpper", "ResourceId" FROM "MainDicomTags" WHERE "ResourceId" = NEW."ParentId" AND "Tag" IN (1048592, 1048608);
                END;
                CREATE TRIGGER "StudySortKeys_StudyMoved" AFTER UPDATE OF "ParentId" ON "Resources" WHEN NEW."Level" = 1 BEGIN
                    DELETE FROM "StudySortKeys" WHERE "ResourceId" = NEW."Id";
                    INSERT INTO "StudySortKeys" ("ResourceId", "Tag", "ValueUpper", "ParentId")
                    SELECT NEW."Id", "Tag", "ValueUpper", "ResourceId" FROM "MainDicomTags" WHERE "ResourceId" = NEW."ParentId" AND "Tag" IN (1048592, 1048608);
                END;
                CREATE TRIGGER "StudySortKeys_TagAdded" AFTER INSERT ON "MainDicomTags" WHEN NEW."Tag" IN (1048592, 1048608) BEGIN
                    INSERT INTO "StudySortKeys" ("ResourceId", "Tag", "ValueUpper", "ParentId")
                    SELECT "Id", NEW."Tag", NEW."ValueUpper", NEW."ResourceId" FROM "Resources" WHERE "ParentId" = NEW."ResourceId" AND "Level" = 1;
                END;
                CREATE TRIGGER "StudySortKeys_TagRemoved" AFTER DELETE ON "MainDicomTags" WHEN OLD."Tag" IN (1048592, 1048608) BEGIN
                    DELETE FROM "StudySortKeys" WHERE "Tag" = OLD."Tag"
                    AND "ResourceId" IN (SELECT "Id" FROM "Resources" WHERE "ParentId" = OLD."ResourceId" AND "Level" = 1);
                END;
                CREATE TRIGGER "StudySortKeys_TagChanged" AFTER UPDATE ON "MainDicomTags" WHEN OLD."Tag" IN (1048592, 1048608) OR NEW."Tag" IN (1048592, 1048608) BEGIN
                    DELETE FROM "StudySortKeys" WHERE "Tag" = OLD."Tag"
                    AND "ResourceId" IN (SELECT "Id" FROM "Resources" WHERE "ParentId" = OLD."ResourceId" AND "Level" = 1);
                    INSERT INTO "StudySortKeys" ("ResourceId", "Tag", "ValueUpper", "ParentId")
                    SELECT "Id", NEW."Tag", NEW."ValueUpper", NEW."ResourceId" FROM "Resources"
                    WHERE "ParentId" = NEW."ResourceId" AND "Level" = 1 AND NEW."Tag" IN (1048592, 1048608);
                END;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER "StudySortKeys_StudyAdded";
                DROP TRIGGER "StudySortKeys_StudyMoved";
                DROP TRIGGER "StudySortKeys_TagAdded";
                DROP TRIGGER "StudySortKeys_TagRemoved";
                DROP TRIGGER "StudySortKeys_TagChanged";
                """);
            migrationBuilder.DropTable(
                name: "StudySortKeys");
        }
    }
}
