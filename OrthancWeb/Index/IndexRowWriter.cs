using System.Data.Common;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// The ingest hot path's inserts, as prepared commands reused across a batch on the context's own connection and
/// transaction. Plain standard SQL on the tables EF Core's migrations create (no provider-specific syntax beyond
/// INSERT ... RETURNING and ON CONFLICT, which SQLite and PostgreSQL share). EF's change tracking costs several times
/// more per row. Table and column names come from the EF model (see <see cref="IndexSchema"/>), so the model stays
/// their one source of truth.
/// </summary>
internal sealed class IndexRowWriter(IndexDbContext db) : IDisposable
{
    private readonly IndexSchema _schema = new(db);
    private DbCommand? _resource, _idByPublicId, _touch, _attachment, _change, _clearTags, _property, _instanceJson;
    private readonly Dictionary<int, DbCommand> _tagsByCount = [], _metadataByCount = [];

    private DbCommand Prepare(string sql, params string[] parameters)
    {
        var connection = db.Database.GetDbConnection();
        var command = connection.CreateCommand();
        command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            command.Parameters.Add(p);
        }
        return command;
    }

    private IEnumerable<DbCommand?> Commands =>
        new[] { _resource, _idByPublicId, _touch, _attachment, _change, _clearTags, _property, _instanceJson }.Concat(_tagsByCount.Values).Concat(_metadataByCount.Values);

    /// <summary>
    /// Points every prepared command at the context's current transaction: a writer kept for many batches keeps its
    /// statements compiled (SQLite parses each once per connection, not once per batch).
    /// </summary>
    public void UseCurrentTransaction()
    {
        var tx = db.Database.CurrentTransaction?.GetDbTransaction();
        foreach (var c in Commands) if (c is not null) c.Transaction = tx;
    }

    /// <summary>Starts a batch: the change sequence watermark counts from here.</summary>
    public void BeginBatch() => MaxChangeSeq = 0;

    private static void Set(DbCommand c, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++) c.Parameters[i].Value = values[i] ?? DBNull.Value;
    }

    public async Task<long> ResourceAsync(ResourceLevel level, string publicId, long? parentId, DateTime now, bool isStable, CancellationToken ct)
    {
        _resource ??= Prepare(_schema.InsertResource, "@level", "@publicId", "@parentId", "@lastUpdate", "@isStable", "@isProtected");
        Set(_resource, (int)level, publicId, parentId, now, isStable, false);
        return Convert.ToInt64(await _resource.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
    }

    /// <summary>The row ID of a resource by public ID, 0 when absent (sees this batch's own inserts).</summary>
    public async Task<long> IdAsync(string publicId, CancellationToken ct)
    {
        _idByPublicId ??= Prepare(_schema.SelectResourceId, "@publicId");
        Set(_idByPublicId, publicId);
        return await _idByPublicId.ExecuteScalarAsync(ct) is { } v and not DBNull ? Convert.ToInt64(v, CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>Marks a parent as just updated and no longer stable.</summary>
    public async Task TouchAsync(long id, DateTime now, CancellationToken ct)
    {
        _touch ??= Prepare(_schema.TouchResource, "@now", "@stable", "@id");
        Set(_touch, now, false, id);
        await _touch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Forgets a resource's main tags, before they are written again from a replacing instance.</summary>
    public async Task ClearTagsAsync(long resourceId, CancellationToken ct)
    {
        _clearTags ??= Prepare(_schema.DeleteTags, "@r");
        Set(_clearTags, resourceId);
        await _clearTags.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// The main tags a level keeps (<see cref="MainDicomTags"/>), as the data set holds them: what an arriving instance
    /// writes for itself and its new parents, and what a reconstruction writes again from the stored file.
    /// </summary>
    public Task MainTagsAsync(long resourceId, ResourceLevel level, OrthancWeb.Dicom.Data.DicomDataset ds, CancellationToken ct)
    {
        var tags = new List<(int, string)>(16);
        foreach (var tag in MainDicomTags.For(level))
            if (ds.GetString(tag) is { } value)
                tags.Add(((int)tag.Value, value));
        return TagsAsync(resourceId, tags, ct);
    }

    /// <summary>All main tags of a resource in one multi-row INSERT (a statement per row costs more than the row).</summary>
    public async Task TagsAsync(long resourceId, IReadOnlyList<(int Tag, string Value)> tags, CancellationToken ct)
    {
        if (tags.Count == 0) return;
        if (!_tagsByCount.TryGetValue(tags.Count, out var c))
        {
            var values = string.Join(", ", Enumerable.Range(0, tags.Count).Select(i => $"(@r, @t{i}, @v{i}, @u{i})"));
            var names = new List<string> { "@r" };
            for (var i = 0; i < tags.Count; i++) names.AddRange([$"@t{i}", $"@v{i}", $"@u{i}"]);
            _tagsByCount[tags.Count] = c = Prepare(_schema.InsertTags + values, [.. names]);
        }
        c.Parameters[0].Value = resourceId;
        for (var i = 0; i < tags.Count; i++)
        {
            c.Parameters[1 + 3 * i].Value = tags[i].Tag;
            c.Parameters[2 + 3 * i].Value = tags[i].Value;
            c.Parameters[3 + 3 * i].Value = tags[i].Value.ToUpperInvariant();
        }
        await c.ExecuteNonQueryAsync(ct);
    }

    /// <summary>All metadata of a resource in one multi-row INSERT.</summary>
    public async Task MetadataAsync(long resourceId, IReadOnlyList<(string Name, string Value)> items, CancellationToken ct)
    {
        if (items.Count == 0) return;
        if (!_metadataByCount.TryGetValue(items.Count, out var c))
        {
            var values = string.Join(", ", Enumerable.Range(0, items.Count).Select(i => $"(@r, @n{i}, @v{i})"));
            var names = new List<string> { "@r" };
            for (var i = 0; i < items.Count; i++) names.AddRange([$"@n{i}", $"@v{i}"]);
            _metadataByCount[items.Count] = c = Prepare(_schema.InsertMetadata + values, [.. names]);
        }
        c.Parameters[0].Value = resourceId;
        for (var i = 0; i < items.Count; i++)
        {
            c.Parameters[1 + 2 * i].Value = items[i].Name;
            c.Parameters[2 + 2 * i].Value = items[i].Value;
        }
        await c.ExecuteNonQueryAsync(ct);
    }

    public async Task AttachmentAsync(long resourceId, Attachment a, CancellationToken ct)
    {
        _attachment ??= Prepare(_schema.InsertAttachment,
            "@resourceId", "@contentType", "@uuid", "@uncompressedSize", "@compressedSize", "@checksum", "@uncompressedMd5", "@compressedMd5", "@compressionType");
        Set(_attachment, resourceId, a.ContentType, a.Uuid, a.UncompressedSize, a.CompressedSize, a.Checksum, a.UncompressedMd5, a.CompressedMd5, a.CompressionType);
        await _attachment.ExecuteNonQueryAsync(ct);
    }

    public async Task InstanceJsonAsync(long resourceId, byte[] data, CancellationToken ct)
    {
        _instanceJson ??= Prepare(_schema.InsertInstanceJson, "@resourceId", "@data");
        Set(_instanceJson, resourceId, data);
        await _instanceJson.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Highest change sequence number inserted through this writer.</summary>
    public long MaxChangeSeq { get; private set; }

    public async Task ChangeAsync(string changeType, ResourceLevel level, string publicId, DateTime date, CancellationToken ct)
    {
        _change ??= Prepare(_schema.InsertChange, "@changeType", "@level", "@publicId", "@date");
        Set(_change, changeType, (int)level, publicId, date);
        MaxChangeSeq = Math.Max(MaxChangeSeq, Convert.ToInt64(await _change.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture));
    }

    public async Task SetPropertyAsync(string name, string value, CancellationToken ct)
    {
        _property ??= Prepare(_schema.UpsertProperty, "@name", "@value");
        Set(_property, name, value);
        await _property.ExecuteNonQueryAsync(ct);
    }

    public void Dispose()
    {
        foreach (var c in Commands) c?.Dispose();
    }
}

/// <summary>
/// The SQL of <see cref="IndexRowWriter"/>, its table and column names read from the EF model (as the provider
/// quotes them): renaming an entity's table or property in <see cref="IndexDbContext"/> changes these statements too.
/// </summary>
internal sealed class IndexSchema
{
    public string InsertResource { get; }
    public string SelectResourceId { get; }
    public string TouchResource { get; }
    /// <summary>Followed by the rows' value lists.</summary>
    public string InsertTags { get; }
    public string DeleteTags { get; }
    /// <summary>Followed by the rows' value lists.</summary>
    public string InsertMetadata { get; }
    public string InsertAttachment { get; }
    public string InsertChange { get; }
    public string InsertInstanceJson { get; }
    public string UpsertProperty { get; }

    public IndexSchema(IndexDbContext db)
    {
        var sql = db.GetService<ISqlGenerationHelper>();
        var model = db.Model;
        string Table<T>() => sql.DelimitIdentifier(model.FindEntityType(typeof(T))!.GetTableName()!);
        string Column<T>(string property) => sql.DelimitIdentifier(model.FindEntityType(typeof(T))!.FindProperty(property)!.GetColumnName());
        string Columns<T>(params string[] properties) => string.Join(", ", properties.Select(Column<T>));

        var resources = Table<Resource>();
        var (resourceId, publicId) = (Column<Resource>(nameof(Resource.Id)), Column<Resource>(nameof(Resource.PublicId)));
        InsertResource = $"""
            INSERT INTO {resources} ({Columns<Resource>(nameof(Resource.Level), nameof(Resource.PublicId), nameof(Resource.ParentId), nameof(Resource.LastUpdate), nameof(Resource.IsStable), nameof(Resource.IsProtected))})
            VALUES (@level, @publicId, @parentId, @lastUpdate, @isStable, @isProtected) RETURNING {resourceId}
            """;
        SelectResourceId = $"SELECT {resourceId} FROM {resources} WHERE {publicId} = @publicId";
        TouchResource = $"UPDATE {resources} SET {Column<Resource>(nameof(Resource.LastUpdate))} = @now, {Column<Resource>(nameof(Resource.IsStable))} = @stable WHERE {resourceId} = @id";

        var tags = Table<MainDicomTag>();
        InsertTags = $"INSERT INTO {tags} ({Columns<MainDicomTag>(nameof(MainDicomTag.ResourceId), nameof(MainDicomTag.Tag), nameof(MainDicomTag.Value), nameof(MainDicomTag.ValueUpper))}) VALUES ";
        DeleteTags = $"DELETE FROM {tags} WHERE {Column<MainDicomTag>(nameof(MainDicomTag.ResourceId))} = @r";

        InsertMetadata = $"INSERT INTO {Table<ResourceMetadata>()} ({Columns<ResourceMetadata>(nameof(ResourceMetadata.ResourceId), nameof(ResourceMetadata.Name), nameof(ResourceMetadata.Value))}) VALUES ";

        InsertAttachment = $"""
            INSERT INTO {Table<Attachment>()} ({Columns<Attachment>(nameof(Attachment.ResourceId), nameof(Attachment.ContentType), nameof(Attachment.Uuid), nameof(Attachment.UncompressedSize),
                nameof(Attachment.CompressedSize), nameof(Attachment.Checksum), nameof(Attachment.UncompressedMd5), nameof(Attachment.CompressedMd5), nameof(Attachment.CompressionType))})
            VALUES (@resourceId, @contentType, @uuid, @uncompressedSize, @compressedSize, @checksum, @uncompressedMd5, @compressedMd5, @compressionType)
            """;

        InsertChange = $"""
            INSERT INTO {Table<ChangeEntry>()} ({Columns<ChangeEntry>(nameof(ChangeEntry.ChangeType), nameof(ChangeEntry.Level), nameof(ChangeEntry.PublicId), nameof(ChangeEntry.Date))})
            VALUES (@changeType, @level, @publicId, @date) RETURNING {Column<ChangeEntry>(nameof(ChangeEntry.Seq))}
            """;

        InsertInstanceJson = $"INSERT INTO {Table<InstanceJson>()} ({Columns<InstanceJson>(nameof(InstanceJson.ResourceId), nameof(InstanceJson.Data))}) VALUES (@resourceId, @data)";

        var (name, value) = (Column<GlobalProperty>(nameof(GlobalProperty.Name)), Column<GlobalProperty>(nameof(GlobalProperty.Value)));
        UpsertProperty = $"INSERT INTO {Table<GlobalProperty>()} ({name}, {value}) VALUES (@name, @value) ON CONFLICT ({name}) DO UPDATE SET {value} = excluded.{value}";
    }
}
