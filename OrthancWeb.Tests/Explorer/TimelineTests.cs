using System.Globalization;
using OrthancWeb.Explorer;
using OrthancWeb.Ingest;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Explorer;

/// <summary>
/// A patient's timeline with more studies than a page (issue 16: a patient of thousands of studies must not cost a
/// query per study to open): the newest page is loaded, the count and the modalities are over every study, and the
/// modality filter applies to all of them, not only to the loaded page.
/// </summary>
public sealed class TimelineTests
{
    [Fact]
    public async Task A_patient_of_many_studies_opens_on_its_newest_page_and_filters_over_all_of_them()
    {
        await using var host = await RealServiceHost.StartAsync("ow-timeline-");
        var ingest = host.Get<IngestService>();
        const int studies = 130;
        var first = new DateOnly(2010, 1, 1);
        for (var i = 0; i < studies; i++)
        {
            // Every tenth study an MR, the rest CT; study i made i days after the first, stored in a shuffled order.
            var k = i * 37 % studies;
            var uid = $"1.2.826.0.1.3680043.10.543.7.{k}";
            var instance = GeneratedInstances.Ct("TIMELINE", uid + ".1", uid + ".2", uid + ".3", 1, pixelBytes: 512,
                studyDate: first.AddDays(k).ToString("yyyyMMdd", CultureInfo.InvariantCulture), description: $"STUDY {k}", modality: k % 10 == 0 ? "MR" : "CT");
            Assert.Equal(IngestStatus.Success, (await ingest.StoreAsync(instance.Bytes, new IngestSource(IngestOrigin.WebUI))).Status);
        }
        var patientId = OrthancWeb.Index.PublicIds.Patient("TIMELINE");
        var explorer = host.Get<ExplorerService>();

        var timeline = (await explorer.PatientTimelineAsync(patientId))!;
        Assert.Equal((studies, studies), (timeline.TotalStudies, timeline.ShownStudies));
        Assert.Equal(["CT", "MR"], timeline.Modalities);
        Assert.Equal(Enumerable.Range(0, ExplorerService.TimelinePage).Select(j => $"STUDY {studies - 1 - j}"), timeline.Studies.Select(s => s.Description));
        Assert.All(timeline.Studies, s => Assert.Single(s.Series));

        // Filtered over every study: the 13 MR studies, though only 5 were among the newest 50.
        var mr = (await explorer.PatientTimelineAsync(patientId, ["MR"]))!;
        Assert.Equal((studies, 13), (mr.TotalStudies, mr.ShownStudies));
        Assert.Equal(Enumerable.Range(0, 13).Select(j => $"STUDY {120 - 10 * j}"), mr.Studies.Select(s => s.Description));

        // The next page starts where the first ended.
        var second = (await explorer.PatientTimelineAsync(patientId, skip: ExplorerService.TimelinePage))!;
        Assert.Equal(Enumerable.Range(ExplorerService.TimelinePage, ExplorerService.TimelinePage).Select(j => $"STUDY {studies - 1 - j}"), second.Studies.Select(s => s.Description));

        // More on demand, up to every study, still newest first.
        var all = (await explorer.PatientTimelineAsync(patientId, take: 200))!;
        Assert.Equal(studies, all.Studies.Count);
        Assert.Equal(all.Studies.Select(s => s.StudyDate).OrderDescending(StringComparer.Ordinal), all.Studies.Select(s => s.StudyDate));
        Assert.Null(await explorer.PatientTimelineAsync("00000000-00000000-00000000-00000000-00000000"));
    }
}
