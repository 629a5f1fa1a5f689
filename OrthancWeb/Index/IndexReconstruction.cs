using Microsoft.EntityFrameworkCore;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Security;

namespace OrthancWeb.Index;

/// <summary>
/// Orthanc's "reconstruct": what the index derived from the stored files, derived again by reading them. For each
/// instance below a resource, its file's header is read as arrival reads it, and the main tags of the instance and of
/// its series, study and patient are written again (<see cref="IndexRowWriter.MainTagsAsync"/>, the writer arrival
/// uses), with its DICOM JSON row. What changes the result is what changes how a file reads: a DefaultEncoding for
/// files that declare no character set, tags the site declared in Dictionary since, a fixed reader. Nothing else is
/// touched: public IDs hash the identifiers, which a reconstruction cannot change, and no change is logged (orthanc
/// 1.10.1 logs none). A parent takes the values of the last of its instances read, as each instance rewrites them.
/// </summary>
public sealed partial class IndexReconstruction(IndexQueries queries, InstanceFiles files, IndexTransactions transactions, ILogger<IndexReconstruction> logger)
{
    /// <summary>Instances read, then written in one transaction: the writer is held for one batch at a time, not a whole patient.</summary>
    private const int Batch = 64;

    /// <summary>Reconstructs a resource and everything below it; false when there is no such resource.</summary>
    public async Task<bool> ReconstructAsync(string publicId, ResourceLevel level, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "reconstruct the index");
        if (await queries.GetAsync(publicId, level, ct) is null) return false;
        LogReconstructing(logger, level, publicId);
        var instances = await queries.InstanceFilesAsync(publicId, ct);
        foreach (var chunk in instances.Chunk(Batch))
        {
            // The files are read before the writer is taken: other arrivals wait only for the rows.
            var headers = await Task.Run(() => chunk.Select(i => (i.InstanceId, Header: files.Read(i.File))).ToList(), ct);
            await transactions.ReadWriteAsync(async (tx, token) =>
            {
                using var rows = new IndexRowWriter(tx.Db);
                foreach (var (instanceId, header) in headers)
                    await RewriteAsync(tx.Db, rows, instanceId, header, token);
                return 0;
            }, ct);
        }
        return true;
    }

    /// <summary>Reconstructs every study, one after the other (orthanc's /tools/reconstruct does it study by study).</summary>
    public async Task ReconstructAllAsync(CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "reconstruct the index");
        foreach (var study in await queries.ListAsync(ResourceLevel.Study, 0, null, ct))
            await ReconstructAsync(study, ResourceLevel.Study, ct);
    }

    /// <summary>An instance's rows and its parents' main tags, from its header; an instance deleted meanwhile is skipped.</summary>
    private static async Task RewriteAsync(IndexDbContext db, IndexRowWriter rows, string instanceId, DicomFile header, CancellationToken ct)
    {
        var row = await db.Resources.AsNoTracking().Where(r => r.PublicId == instanceId && r.Level == ResourceLevel.Instance)
            .Select(r => new { r.Id, r.ParentId }).FirstOrDefaultAsync(ct);
        if (row is null) return;
        var ds = header.Dataset;
        var (id, parentId) = (row.Id, row.ParentId);
        for (var level = ResourceLevel.Instance; ; level--)
        {
            await rows.ClearTagsAsync(id, ct);
            await rows.MainTagsAsync(id, level, ds, ct);
            if (level == ResourceLevel.Patient || parentId is not { } next) break;
            var parent = await db.Resources.AsNoTracking().Where(r => r.Id == next).Select(r => new { r.Id, r.ParentId }).FirstAsync(ct);
            (id, parentId) = (parent.Id, parent.ParentId);
        }
        await db.InstanceJson.Where(j => j.ResourceId == row.Id).ExecuteDeleteAsync(ct);
        await rows.InstanceJsonAsync(row.Id, InstanceMetadataJson.Encode(header), ct);
    }

    [LoggerMessage(LogLevel.Information, "Reconstructing {Level} {PublicId} from its stored files")]
    private static partial void LogReconstructing(ILogger logger, ResourceLevel level, string publicId);
}
