using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace OrthancWeb.Index.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class PostgreSqlIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "Changes",
                columns: table => new
                {
                    Seq = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    ChangeType = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    Level = table.Column<int>(type: "integer", nullable: false),
                    PublicId = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    Date = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Changes", x => x.Seq);
                });

            migrationBuilder.CreateTable(
                name: "GlobalProperties",
                columns: table => new
                {
                    Name = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    Value = table.Column<string>(type: "text", nullable: false, collation: "C")
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_GlobalProperties", x => x.Name);
                });

            migrationBuilder.CreateTable(
                name: "Resources",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Level = table.Column<int>(type: "integer", nullable: false),
                    PublicId = table.Column<string>(type: "character varying(44)", maxLength: 44, nullable: false, collation: "C"),
                    ParentId = table.Column<long>(type: "bigint", nullable: true),
                    LastUpdate = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    IsStable = table.Column<bool>(type: "boolean", nullable: false),
                    IsProtected = table.Column<bool>(type: "boolean", nullable: false)
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
                name: "WorklistItems",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    PublicId = table.Column<string>(type: "character varying(36)", maxLength: 36, nullable: false, collation: "C"),
                    DataSet = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    PatientId = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    PatientName = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    AccessionNumber = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    StudyInstanceUid = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    RequestedProcedureId = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    Modality = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    StationAet = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    ScheduledDate = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    ScheduledTime = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    Performed = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    Created = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    Updated = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_WorklistItems", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Attachments",
                columns: table => new
                {
                    ResourceId = table.Column<long>(type: "bigint", nullable: false),
                    ContentType = table.Column<int>(type: "integer", nullable: false),
                    Uuid = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    UncompressedSize = table.Column<long>(type: "bigint", nullable: false),
                    CompressedSize = table.Column<long>(type: "bigint", nullable: false),
                    Checksum = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    UncompressedMd5 = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    CompressedMd5 = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    CompressionType = table.Column<int>(type: "integer", nullable: false),
                    Revision = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L)
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
                name: "InstanceJson",
                columns: table => new
                {
                    ResourceId = table.Column<long>(type: "bigint", nullable: false),
                    Data = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_InstanceJson", x => x.ResourceId);
                    table.ForeignKey(
                        name: "FK_InstanceJson_Resources_ResourceId",
                        column: x => x.ResourceId,
                        principalTable: "Resources",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "Labels",
                columns: table => new
                {
                    ResourceId = table.Column<long>(type: "bigint", nullable: false),
                    Label = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false, collation: "C")
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

            migrationBuilder.CreateTable(
                name: "MainDicomTags",
                columns: table => new
                {
                    ResourceId = table.Column<long>(type: "bigint", nullable: false),
                    Tag = table.Column<int>(type: "integer", nullable: false),
                    Value = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    ValueUpper = table.Column<string>(type: "text", nullable: false, collation: "C")
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
                name: "Measurements",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    InstanceId = table.Column<long>(type: "bigint", nullable: false),
                    Frame = table.Column<int>(type: "integer", nullable: false),
                    UserId = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false, collation: "C"),
                    Kind = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, collation: "C"),
                    Points = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: false, collation: "C"),
                    Created = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Measurements", x => x.Id);
                    table.ForeignKey(
                        name: "FK_Measurements_Resources_InstanceId",
                        column: x => x.InstanceId,
                        principalTable: "Resources",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "Metadata",
                columns: table => new
                {
                    ResourceId = table.Column<long>(type: "bigint", nullable: false),
                    Name = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    Value = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    Revision = table.Column<long>(type: "bigint", nullable: false, defaultValue: 0L)
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
                name: "IX_Labels_Label_ResourceId",
                table: "Labels",
                columns: new[] { "Label", "ResourceId" });

            migrationBuilder.CreateIndex(
                name: "IX_MainDicomTags_Tag_Value",
                table: "MainDicomTags",
                columns: new[] { "Tag", "Value" });

            migrationBuilder.CreateIndex(
                name: "IX_MainDicomTags_Tag_ValueUpper_ResourceId",
                table: "MainDicomTags",
                columns: new[] { "Tag", "ValueUpper", "ResourceId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Measurements_InstanceId_UserId_Frame",
                table: "Measurements",
                columns: new[] { "InstanceId", "UserId", "Frame" });

            migrationBuilder.CreateIndex(
                name: "IX_Measurements_UserId",
                table: "Measurements",
                column: "UserId");

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
                name: "IX_Resources_Level_ParentId",
                table: "Resources",
                columns: new[] { "Level", "ParentId" },
                filter: "\"Level\" = 1");

            migrationBuilder.CreateIndex(
                name: "IX_Resources_ParentId",
                table: "Resources",
                column: "ParentId");

            migrationBuilder.CreateIndex(
                name: "IX_Resources_PublicId",
                table: "Resources",
                column: "PublicId",
                unique: true);

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
                name: "Attachments");

            migrationBuilder.DropTable(
                name: "Changes");

            migrationBuilder.DropTable(
                name: "GlobalProperties");

            migrationBuilder.DropTable(
                name: "InstanceJson");

            migrationBuilder.DropTable(
                name: "Labels");

            migrationBuilder.DropTable(
                name: "MainDicomTags");

            migrationBuilder.DropTable(
                name: "Measurements");

            migrationBuilder.DropTable(
                name: "Metadata");

            migrationBuilder.DropTable(
                name: "WorklistItems");

            migrationBuilder.DropTable(
                name: "Resources");
        }
    }
}
