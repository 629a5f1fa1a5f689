using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OrthancWeb.Index.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Worklists : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "WorklistItems",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    PublicId = table.Column<string>(type: "TEXT", maxLength: 36, nullable: false),
                    DataSet = table.Column<string>(type: "TEXT", nullable: false),
                    PatientId = table.Column<string>(type: "TEXT", nullable: false),
                    PatientName = table.Column<string>(type: "TEXT", nullable: false),
                    AccessionNumber = table.Column<string>(type: "TEXT", nullable: false),
                    StudyInstanceUid = table.Column<string>(type: "TEXT", nullable: false),
                    RequestedProcedureId = table.Column<string>(type: "TEXT", nullable: false),
                    Modality = table.Column<string>(type: "TEXT", nullable: false),
                    StationAet = table.Column<string>(type: "TEXT", nullable: false),
                    ScheduledDate = table.Column<string>(type: "TEXT", nullable: false),
                    ScheduledTime = table.Column<string>(type: "TEXT", nullable: false),
                    Performed = table.Column<DateTime>(type: "TEXT", nullable: true),
                    Created = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Updated = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_WorklistItems", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_WorklistItems_AccessionNumber",
                table: "WorklistItems",
                column: "AccessionNumber");

            migrationBuilder.CreateIndex(
                name: "IX_WorklistItems_PublicId",
                table: "WorklistItems",
                column: "PublicId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_WorklistItems_ScheduledDate_ScheduledTime",
                table: "WorklistItems",
                columns: new[] { "ScheduledDate", "ScheduledTime" });

            migrationBuilder.CreateIndex(
                name: "IX_WorklistItems_StudyInstanceUid",
                table: "WorklistItems",
                column: "StudyInstanceUid");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "WorklistItems");
        }
    }
}
