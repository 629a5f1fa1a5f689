using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// The ingest hot path's inserts, as prepared commands reused across a batch on the context's own connection and
/// transaction. Plain standard SQL on the tables EF Core's migrations create (no provider-specific syntax beyond
/// INSERT ... RETURNING, which SQLite and PostgreSQL share). EF's change tracking costs several times more per row.
/// </summary>
internal sealed class IndexRowWriter(IndexDbContext db) : IDisposable
{
    private DbCommand? _resource, _tag, _metadata, _attachment, _change, _clearTags;
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
        new[] { _resource, _tag, _metadata, _attachment, _change, _clearTags, _idByPublicId, _touch, _property }.Concat(_tagsByCount.Values).Concat(_metadataByCount.Values);

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
        _resource ??= Prepare("""
            INSERT INTO "Resources" ("Level", "PublicId", "ParentId", "LastUpdate", "IsStable", "IsProtected")
            VALUES (@level, @publicId, @parentId, @lastUpdate, @isStable, @isProtected) RETURNING "Id"
            """, "@level", "@publicId", "@parentId", "@lastUpdate", "@isStable", "@isProtected");
        Set(_resource, (int)level, publicId, parentId, now, isStable, false);
        return Convert.ToInt64(await _resource.ExecuteScalarAsync(ct));
    }

    private DbCommand? _idByPublicId, _touch;

    /// <summary>The row ID of a resource by public ID, 0 when absent (sees this batch's own inserts).</summary>
    public async Task<long> IdAsync(string publicId, CancellationToken ct)
    {
        _idByPublicId ??= Prepare("SELECT \"Id\" FROM \"Resources\" WHERE \"PublicId\" = @publicId", "@publicId");
        Set(_idByPublicId, publicId);
        return await _idByPublicId.ExecuteScalarAsync(ct) is { } v and not DBNull ? Convert.ToInt64(v) : 0;
    }

    /// <summary>Marks a parent as just updated and no longer stable.</summary>
    public async Task TouchAsync(long id, DateTime now, CancellationToken ct)
    {
        _touch ??= Prepare("UPDATE \"Resources\" SET \"LastUpdate\" = @now, \"IsStable\" = @stable WHERE \"Id\" = @id", "@now", "@stable", "@id");
        Set(_touch, now, false, id);
        await _touch.ExecuteNonQueryAsync(ct);
    }

    public async Task TagAsync(long resourceId, int tag, string value, CancellationToken ct)
    {
        _tag ??= Prepare("""
            INSERT INTO "MainDicomTags" ("ResourceId", "Tag", "Value", "ValueUpper") VALUES (@resourceId, @tag, @value, @valueUpper)
            """, "@resourceId", "@tag", "@value", "@valueUpper");
        Set(_tag, resourceId, tag, value, value.ToUpperInvariant());
        await _tag.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Forgets a resource's main tags, before they are written again from a replacing instance.</summary>
    public async Task ClearTagsAsync(long resourceId, CancellationToken ct)
    {
        _clearTags ??= Prepare("DELETE FROM \"MainDicomTags\" WHERE \"ResourceId\" = @r", "@r");
        Set(_clearTags, resourceId);
        await _clearTags.ExecuteNonQueryAsync(ct);
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
            _tagsByCount[tags.Count] = c = Prepare($"INSERT INTO \"MainDicomTags\" (\"ResourceId\", \"Tag\", \"Value\", \"ValueUpper\") VALUES {values}", [.. names]);
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
            _metadataByCount[items.Count] = c = Prepare($"INSERT INTO \"Metadata\" (\"ResourceId\", \"Name\", \"Value\") VALUES {values}", [.. names]);
        }
        c.Parameters[0].Value = resourceId;
        for (var i = 0; i < items.Count; i++)
        {
            c.Parameters[1 + 2 * i].Value = items[i].Name;
            c.Parameters[2 + 2 * i].Value = items[i].Value;
        }
        await c.ExecuteNonQueryAsync(ct);
    }

    public async Task MetadataAsync(long resourceId, string name, string value, CancellationToken ct)
    {
        _metadata ??= Prepare("""
            INSERT INTO "Metadata" ("ResourceId", "Name", "Value") VALUES (@resourceId, @name, @value)
            """, "@resourceId", "@name", "@value");
        Set(_metadata, resourceId, name, value);
        await _metadata.ExecuteNonQueryAsync(ct);
    }

    public async Task AttachmentAsync(long resourceId, Attachment a, CancellationToken ct)
    {
        _attachment ??= Prepare("""
            INSERT INTO "Attachments" ("ResourceId", "ContentType", "Uuid", "UncompressedSize", "CompressedSize", "Checksum", "UncompressedMd5", "CompressedMd5", "CompressionType")
            VALUES (@resourceId, @contentType, @uuid, @uncompressedSize, @compressedSize, @checksum, @uncompressedMd5, @compressedMd5, @compressionType)
            """, "@resourceId", "@contentType", "@uuid", "@uncompressedSize", "@compressedSize", "@checksum", "@uncompressedMd5", "@compressedMd5", "@compressionType");
        Set(_attachment, resourceId, a.ContentType, a.Uuid, a.UncompressedSize, a.CompressedSize, a.Checksum, a.UncompressedMd5, a.CompressedMd5, a.CompressionType);
        await _attachment.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Highest change sequence number inserted through this writer.</summary>
    public long MaxChangeSeq { get; private set; }

    public async Task ChangeAsync(string changeType, ResourceLevel level, string publicId, DateTime date, CancellationToken ct)
    {
        _change ??= Prepare("""
            INSERT INTO "Changes" ("ChangeType", "Level", "PublicId", "Date") VALUES (@changeType, @level, @publicId, @date) RETURNING "Seq"
            """, "@changeType", "@level", "@publicId", "@date");
        Set(_change, changeType, (int)level, publicId, date);
        MaxChangeSeq = Math.Max(MaxChangeSeq, Convert.ToInt64(await _change.ExecuteScalarAsync(ct)));
    }

    private DbCommand? _property;

    public async Task SetPropertyAsync(string name, string value, CancellationToken ct)
    {
        _property ??= Prepare("""
            INSERT INTO "GlobalProperties" ("Name", "Value") VALUES (@name, @value) ON CONFLICT ("Name") DO UPDATE SET "Value" = excluded."Value"
            """, "@name", "@value");
        Set(_property, name, value);
        await _property.ExecuteNonQueryAsync(ct);
    }

    public void Dispose()
    {
        foreach (var c in Commands) c?.Dispose();
    }
}
