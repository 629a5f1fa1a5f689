using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrthancWeb.Index.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class InitialIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "Changes",
                columns: table => new
                {
                    Seq = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ChangeType = table.Column<string>(type: "TEXT", nullable: false),
                    Level = table.Column<int>(type: "INTEGER", nullable: false),
                    PublicId = table.Column<string>(type: "TEXT", nullable: false),
                    Date = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Changes", x => x.Seq);
                });

            migrationBuilder.CreateTable(
                name: "GlobalProperties",
                columns: table => new
                {
                    Name = table.Column<string>(type: "TEXT", nullable: false),
                    Value = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_GlobalProperties", x => x.Name);
                });

            migrationBuilder.CreateTable(
                name: "Resources",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Level = table.Column<int>(type: "INTEGER", nullable: false),
                    PublicId = table.Column<string>(type: "TEXT", maxLength: 44, nullable: false),
                    ParentId = table.Column<long>(type: "INTEGER", nullable: true),
                    LastUpdate = table.Column<DateTime>(type: "TEXT", nullable: false),
                    IsStable = table.Column<bool>(type: "INTEGER", nullable: false),
                    IsProtected = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Resources", x => x.Id);
                    table.ForeignKey(
                        name: "FK_Resources_Resources_ParentId",
                        column: x => x.ParentId,
                        principalTable: "Resources",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "Attachments",
                columns: table => new
                {
                    ResourceId = table.Column<long>(type: "INTEGER", nullable: false),
                    ContentType = table.Column<int>(type: "INTEGER", nullable: false),
                    Uuid = table.Column<string>(type: "TEXT", nullable: false),
                    UncompressedSize = table.Column<long>(type: "INTEGER", nullable: false),
                    CompressedSize = table.Column<long>(type: "INTEGER", nullable: false),
                    UncompressedMd5 = table.Column<string>(type: "TEXT", nullable: false),
                    CompressedMd5 = table.Column<string>(type: "TEXT", nullable: false),
                    CompressionType = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Attachments", x => new { x.ResourceId, x.ContentType });
                    table.ForeignKey(
                        name: "FK_Attachments_Resources_ResourceId",
                        column: x => x.ResourceId,
                        principalTable: "Resources",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "MainDicomTags",
                columns: table => new
                {
                    ResourceId = table.Column<long>(type: "INTEGER", nullable: false),
                    Tag = table.Column<int>(type: "INTEGER", nullable: false),
                    Value = table.Column<string>(type: "TEXT", nullable: false),
                    ValueUpper = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_MainDicomTags", x => new { x.ResourceId, x.Tag });
                    table.ForeignKey(
                        name: "FK_MainDicomTags_Resources_ResourceId",
                        column: x => x.ResourceId,
                        principalTable: "Resources",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "Metadata",
                columns: table => new
                {
                    ResourceId = table.Column<long>(type: "INTEGER", nullable: false),
                    Name = table.Column<string>(type: "TEXT", nullable: false),
                    Value = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Metadata", x => new { x.ResourceId, x.Name });
                    table.ForeignKey(
                        name: "FK_Metadata_Resources_ResourceId",
                        column: x => x.ResourceId,
                        principalTable: "Resources",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Attachments_Uuid",
                table: "Attachments",
                column: "Uuid",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_MainDicomTags_Tag_Value",
                table: "MainDicomTags",
                columns: new[] { "Tag", "Value" });

            migrationBuilder.CreateIndex(
                name: "IX_MainDicomTags_Tag_ValueUpper",
                table: "MainDicomTags",
                columns: new[] { "Tag", "ValueUpper" });

            migrationBuilder.CreateIndex(
                name: "IX_Resources_IsStable_LastUpdate",
                table: "Resources",
                columns: new[] { "IsStable", "LastUpdate" });

            migrationBuilder.CreateIndex(
                name: "IX_Resources_Level_Id",
                table: "Resources",
                columns: new[] { "Level", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Resources_Level_IsProtected_LastUpdate",
                table: "Resources",
                columns: new[] { "Level", "IsProtected", "LastUpdate" });

            migrationBuilder.CreateIndex(
                name: "IX_Resources_ParentId",
                table: "Resources",
                column: "ParentId");

            migrationBuilder.CreateIndex(
                name: "IX_Resources_PublicId",
                table: "Resources",
                column: "PublicId",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "Attachments");

            migrationBuilder.DropTable(
                name: "Changes");

            migrationBuilder.DropTable(
                name: "GlobalProperties");

            migrationBuilder.DropTable(
                name: "MainDicomTags");

            migrationBuilder.DropTable(
                name: "Metadata");

            migrationBuilder.DropTable(
                name: "Resources");
        }
    }
}
