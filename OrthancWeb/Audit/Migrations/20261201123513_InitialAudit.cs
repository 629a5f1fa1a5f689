using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrthancWeb.Audit.Migrations
{
    /// <inheritdoc />
    public partial class InitialAudit : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "Anchors",
                columns: table => new
                {
                    Id = table.Column<int>(type: "INTEGER", nullable: false),
                    LastPrunedId = table.Column<long>(type: "INTEGER", nullable: false),
                    LastPrunedHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    PrunedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    PrunedCount = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Anchors", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Entries",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false),
                    Time = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Action = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Outcome = table.Column<int>(type: "INTEGER", nullable: false),
                    User = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    Address = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    Source = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    PatientId = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    ResourceLevel = table.Column<string>(type: "TEXT", maxLength: 32, nullable: true),
                    ResourceId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    StudyInstanceUid = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    Details = table.Column<string>(type: "TEXT", nullable: true),
                    PreviousHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Entries", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Entries_Action_Id",
                table: "Entries",
                columns: new[] { "Action", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Entries_PatientId_Id",
                table: "Entries",
                columns: new[] { "PatientId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Entries_Time",
                table: "Entries",
                column: "Time");

            migrationBuilder.CreateIndex(
                name: "IX_Entries_User_Id",
                table: "Entries",
                columns: new[] { "User", "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "Anchors");

            migrationBuilder.DropTable(
                name: "Entries");
        }
    }
}
