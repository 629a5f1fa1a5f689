using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrthancWeb.Index.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class SortedGrids : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_MainDicomTags_Tag_ValueUpper",
                table: "MainDicomTags");

            migrationBuilder.CreateIndex(
                name: "IX_Resources_Level_ParentId",
                table: "Resources",
                columns: new[] { "Level", "ParentId" },
                filter: "\"Level\" = 1");

            migrationBuilder.CreateIndex(
                name: "IX_MainDicomTags_Tag_ValueUpper_ResourceId",
                table: "MainDicomTags",
                columns: new[] { "Tag", "ValueUpper", "ResourceId" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Resources_Level_ParentId",
                table: "Resources");

            migrationBuilder.DropIndex(
                name: "IX_MainDicomTags_Tag_ValueUpper_ResourceId",
                table: "MainDicomTags");

            migrationBuilder.CreateIndex(
                name: "IX_MainDicomTags_Tag_ValueUpper",
                table: "MainDicomTags",
                columns: new[] { "Tag", "ValueUpper" });
        }
    }
}
