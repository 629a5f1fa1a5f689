using OrthancWeb.Annotations;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Security;
using OrthancWeb.Storage;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Annotations;

/// <summary>
/// The services the REST routes and the explorer share, with CheckRevisions off (the default): a write without
/// If-Match replaces, one naming another revision is still refused; everything goes with a deleted patient.
/// </summary>
public sealed class AnnotationServiceTests : IAsyncLifetime
{
    private RealServiceHost _host = null!;

    public async Task InitializeAsync() => _host = await RealServiceHost.StartAsync("ow-annotations-");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Without_CheckRevisions_writes_replace_and_a_deleted_patient_takes_its_metadata_attachments_and_labels()
    {
        var stored = await _host.Get<IngestService>().StoreAsync(File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")), new IngestSource(IngestOrigin.WebUI));
        var study = stored.StudyId!;
        var catalog = _host.Get<AnnotationCatalog>();
        var metadata = _host.Get<MetadataService>();
        var key = catalog.Metadata("1024")!;
        Assert.False(catalog.CheckRevisions);

        Assert.Equal(new Revision(0, Revision.Md5Of("a")), (await metadata.SetAsync(study, ResourceLevel.Study, key, "a", null, default)).Revision);
        Assert.Equal(new Revision(1, Revision.Md5Of("b")), (await metadata.SetAsync(study, ResourceLevel.Study, key, "b", null, default)).Revision);
        Assert.Equal(AnnotationWriteStatus.RevisionMismatch, (await metadata.SetAsync(study, ResourceLevel.Study, key, "c", new Revision(0, Revision.Md5Of("a")), default)).Status);
        Assert.Equal(AnnotationWriteStatus.UnknownResource, (await metadata.SetAsync("nope", ResourceLevel.Study, key, "c", null, default)).Status);
        await Assert.ThrowsAsync<AccessDeniedException>(() => metadata.SetAsync(study, ResourceLevel.Study, catalog.Metadata("Origin")!, "x", null, default));
        Assert.Contains(await metadata.ListAsync(study, ResourceLevel.Study, default) ?? [], m => m is { Name: "1024", Value: "b", Revision: 1 });

        var attachments = _host.Get<AttachmentService>();
        var type = catalog.ContentType("1024")!;
        await attachments.SetAsync(study, ResourceLevel.Study, type, new MemoryStream("first"u8.ToArray()), null, default);
        var second = await attachments.SetAsync(study, ResourceLevel.Study, type, new MemoryStream("second"u8.ToArray()), null, default);
        Assert.Equal(1, second.Revision!.Value.Number);
        var (_, attachment) = await attachments.GetAsync(study, ResourceLevel.Study, type.Number, default);
        var storage = _host.Get<StorageArea>();
        Assert.True(storage.Exists(attachment!.Uuid));
        await _host.Get<LabelService>().AddAsync(study, ResourceLevel.Study, "kept-until-deleted", default);

        await _host.Get<IndexWriter>().DeleteAsync(stored.PatientId!, ResourceLevel.Patient, default);
        Assert.False(storage.Exists(attachment.Uuid));
        Assert.Empty(await _host.Get<LabelService>().AllAsync(default));
        Assert.Null(await metadata.ListAsync(study, ResourceLevel.Study, default));
    }
}
