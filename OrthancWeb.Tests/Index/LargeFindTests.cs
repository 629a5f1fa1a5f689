using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;
using OrthancWeb.Tests.Components;

namespace OrthancWeb.Tests.Index;

/// <summary>A find whose intermediate sets pass SQLite's limit of 32,766 parameters, on the index as the server configures it.</summary>
public sealed class LargeFindTests : IAsyncLifetime
{
    private RealServiceHost _host = null!;
    private ServiceProvider _services = null!;

    public async Task InitializeAsync() => _services = (_host = await RealServiceHost.StartAsync("ow-largefind-")).Services;

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task A_date_range_matching_40000_studies_finds_them_all()
    {
        const int studies = 40_000;
        var contexts = _services.GetRequiredService<IDbContextFactory<IndexDbContext>>();
        await using (var db = await contexts.CreateDbContextAsync())
        {
            // Rows written straight into the index: one patient, 40,000 studies dated 2010-2021.
            var patient = new Resource { Level = ResourceLevel.Patient, PublicId = "patient", LastUpdate = DateTime.UtcNow };
            for (var i = 0; i < studies; i++)
            {
                var date = new DateOnly(2010, 1, 1).AddDays(i % 4000).ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);
                var study = new Resource { Level = ResourceLevel.Study, PublicId = $"study-{i:D6}", LastUpdate = DateTime.UtcNow };
                study.Tags.Add(new MainDicomTag { Tag = (int)DicomTags.StudyDate.Value, Value = date, ValueUpper = date });
                patient.Children.Add(study);
            }
            db.Resources.Add(patient);
            await db.SaveChangesAsync();
        }
        var queries = _services.GetRequiredService<IndexQueries>();
        var all = await queries.FindAsync(new FindRequest(ResourceLevel.Study, [new FindConstraint(DicomTags.StudyDate, "20100101-20301231")]), default);
        Assert.Equal(studies, all.Count);
        // Through the patient level too: the 40,000 study rows are mapped up to their one patient.
        var patients = await queries.FindAsync(new FindRequest(ResourceLevel.Patient, [new FindConstraint(DicomTags.StudyDate, "2010-")]), default);
        Assert.Equal(["patient"], patients);
    }
}
