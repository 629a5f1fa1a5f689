using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrthancWeb.Index.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class LabelsRevisions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "Revision",
                table: "Metadata",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "Revision",
                table: "Attachments",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateTable(
                name: "Labels",
                columns: table => new
                {
                    ResourceId = table.Column<long>(type: "INTEGER", nullable: false),
                    Label = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Labels", x => new { x.ResourceId, x.Label });
                    table.ForeignKey(
                        name: "FK_Labels_Resources_ResourceId",
                        column: x => x.ResourceId,
                        principalTable: "Resources",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Labels_Label_ResourceId",
                table: "Labels",
                columns: new[] { "Label", "ResourceId" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "Labels");

            migrationBuilder.DropColumn(
                name: "Revision",
                table: "Metadata");

            migrationBuilder.DropColumn(
                name: "Revision",
                table: "Attachments");
        }
    }
}
