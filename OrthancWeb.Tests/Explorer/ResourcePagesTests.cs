using OrthancWeb.Dicom.Data;
using OrthancWeb.Explorer;
using OrthancWeb.Index;

namespace OrthancWeb.Tests.Explorer;

/// <summary>
/// The explorer's grids paged, sorted, filtered and counted in a real index: every page read in turn must give the
/// order an in-memory model of the same rows gives, with the same totals, counts and sizes. Run on both providers.
/// </summary>
public abstract class ResourcePagesTests(string provider) : IAsyncLifetime
{
    private GridIndex _index = null!;

    public async Task InitializeAsync() => _index = await GridIndex.CreateAsync(provider);

    public async Task DisposeAsync() => await _index.DisposeAsync();

    private static (DicomTag, string) T(DicomTag tag, string value) => (tag, value);

    /// <summary>The order the grids promise: by the key regardless of case, ties by holder then row; a missing key sorts as the lowest value.</summary>
    private static List<string> Expected(IEnumerable<(Resource Row, string? Key, long Holder)> rows, bool descending)
    {
        var ascending = rows.Where(r => r.Key is null).OrderBy(r => r.Row.Id)
            .Concat(rows.Where(r => r.Key is not null)
                .OrderBy(r => r.Key!.ToUpperInvariant(), StringComparer.Ordinal).ThenBy(r => r.Holder).ThenBy(r => r.Row.Id))
            .Select(r => r.Row.PublicId).ToList();
        if (descending) ascending.Reverse();
        return ascending;
    }

    private static string? Tag(Resource r, DicomTag tag) => r.Tags.FirstOrDefault(t => t.Tag == (int)tag.Value)?.Value;

    /// <summary>
    /// Reads every page in turn (and one past the end), checking the total on each, and returns the rows in that order.
    /// Pages are read as people page: a jump into the middle first (an OFFSET walk), then forwards and backwards, then
    /// jumps to pages that do not start on a page boundary. Every way must give the same rows as the forward walk:
    /// the lists seek from the keys of pages served before (<c>IndexQueries.KeyedRunAsync</c>).
    /// </summary>
    private static async Task<List<string>> AllPagesAsync(int pageSize, int expectedTotal, Func<int, int, Task<(int Total, IEnumerable<string> Ids)>> page)
    {
        async Task<List<string>> PageAsync(int skip)
        {
            var (total, ids) = await page(skip, pageSize);
            Assert.Equal(expectedTotal, total);
            var list = ids.ToList();
            Assert.Equal(Math.Min(pageSize, Math.Max(0, expectedTotal - skip)), list.Count);
            return list;
        }
        var middle = await PageAsync(expectedTotal / 2);
        var all = new List<string>();
        for (var skip = 0; skip <= expectedTotal; skip += pageSize) all.AddRange(await PageAsync(skip));
        List<string> Slice(int skip) => all.Skip(skip).Take(pageSize).ToList();
        Assert.Equal(Slice(expectedTotal / 2), middle);
        for (var skip = (expectedTotal - 1) / pageSize * pageSize; skip >= 0; skip -= pageSize) Assert.Equal(Slice(skip), await PageAsync(skip));
        foreach (var skip in new[] { 1, expectedTotal - 1, expectedTotal / 3, 2, expectedTotal / 2 + 1, expectedTotal - pageSize - 1 }.Where(s => s >= 0))
            Assert.Equal(Slice(skip), await PageAsync(skip));
        return all;
    }

    [Fact]
    public async Task Studies_page_newest_first_by_default_ties_by_row_and_undated_last()
    {
        var dates = new[] { "20200102", "20200101", "20191231", "20200101", null, "20200102", "", "20200101", null, "20210615" };
        var studies = new List<Resource>();
        for (var p = 0; p < 7; p++)
        {
            var patient = _index.Patient(T(DicomTags.PatientName, $"PATIENT^{p}"), T(DicomTags.PatientID, $"ID{p}"));
            for (var s = 0; s < 1 + p % 3; s++)
            {
                var date = dates[studies.Count % dates.Length];
                studies.Add(_index.Study(patient, date is null ? [] : [T(DicomTags.StudyDate, date)]));
            }
        }
        await _index.SaveAsync();

        var model = studies.Select(s => (s, Tag(s, DicomTags.StudyDate), s.Id)).ToList();
        foreach (var (sortBy, descending) in new[] { ((string?)null, false), ("StudyDate", true), ("StudyDate", false) })
        {
            var shown = await AllPagesAsync(4, studies.Count, async (skip, take) =>
            {
                var (total, rows) = await _index.Explorer.SearchStudiesAsync(new StudySearch(), sortBy, descending, skip, take);
                return (total, rows.Select(r => r.Id));
            });
            // No column chosen yet: newest first, whatever the direction the grid passes.
            Assert.Equal(Expected(model, descending || sortBy is null), shown);
        }
    }

    [Fact]
    public async Task Studies_sorted_by_patient_name_regardless_of_case_group_each_patient_and_put_nameless_ones_first()
    {
        var names = new[] { "doe^jane", "Smith^Anna", null, "DOE^JANE", "Émile^Zola", "", "ADAMS^X", "smith^anna", null, "Doe^Jane" };
        var studies = new List<(Resource Study, Resource Patient)>();
        for (var p = 0; p < names.Length; p++)
        {
            var patient = _index.Patient(names[p] is { } n ? [T(DicomTags.PatientName, n), T(DicomTags.PatientID, $"ID{p}")] : [T(DicomTags.PatientID, $"ID{p}")]);
            for (var s = 0; s < 1 + p % 3; s++) studies.Add((_index.Study(patient, T(DicomTags.StudyDate, "20200101")), patient));
        }
        await _index.SaveAsync();

        var model = studies.Select(x => (x.Study, Tag(x.Patient, DicomTags.PatientName), x.Patient.Id)).ToList();
        foreach (var descending in new[] { false, true })
        {
            var shown = await AllPagesAsync(3, studies.Count, async (skip, take) =>
            {
                var (total, rows) = await _index.Explorer.SearchStudiesAsync(new StudySearch(), "PatientName", descending, skip, take);
                return (total, rows.Select(r => r.Id));
            });
            Assert.Equal(Expected(model, descending), shown);
        }
        // The rows show the patient's tags beside the study's. Values compare by code point: É after every ASCII letter.
        var (_, first) = await _index.Explorer.SearchStudiesAsync(new StudySearch(), "PatientName", true, 0, 1);
        Assert.Equal(("Émile^Zola", "ID4"), (first[0].PatientName, first[0].PatientId));
    }

    [Fact]
    public async Task Rows_carry_their_counts_sizes_modalities_and_protection()
    {
        var patient = _index.Patient(T(DicomTags.PatientName, "COUNTED^ONE"), T(DicomTags.PatientID, "C1"), T(DicomTags.PatientSex, "F"), T(DicomTags.PatientBirthDate, "19700101"));
        patient.IsProtected = true;
        var big = _index.Study(patient, T(DicomTags.StudyDate, "20240101"), T(DicomTags.StudyDescription, "CT CHEST"), T(DicomTags.AccessionNumber, "ACC1"));
        var ct = _index.Series(big, T(DicomTags.Modality, "CT"));
        _index.Instance(ct, 100, 150);
        _index.Instance(ct, 200, 300);
        _index.Instance(_index.Series(big, T(DicomTags.Modality, "SR")), 50, 50);
        _index.Instance(_index.Series(big, T(DicomTags.Modality, "")), 7, 7);
        _index.Instance(_index.Series(big, T(DicomTags.Modality, "CT")), 1, 1);
        var small = _index.Study(patient, T(DicomTags.StudyDate, "20230101"));
        _index.Instance(_index.Series(small, T(DicomTags.Modality, "MR")), 1000, 4000);
        var empty = _index.Patient(T(DicomTags.PatientName, "COUNTED^TWO"), T(DicomTags.PatientID, "C2"));
        _index.Series(_index.Study(empty, T(DicomTags.StudyDate, "20220101")));
        await _index.SaveAsync();

        var (total, studies) = await _index.Explorer.SearchStudiesAsync(new StudySearch(), null, true, 0, 25);
        Assert.Equal(3, total);
        Assert.Equal(
            [
                new StudyRow(big.PublicId, "COUNTED^ONE", "C1", "20240101", "CT CHEST", "ACC1", "CT, SR", 4, 5, 358, patient.PublicId),
                new StudyRow(small.PublicId, "COUNTED^ONE", "C1", "20230101", "", "", "MR", 1, 1, 1000, patient.PublicId),
                new StudyRow(empty.Children[0].PublicId, "COUNTED^TWO", "C2", "20220101", "", "", "", 1, 0, 0, empty.PublicId),
            ], studies);

        var (patientTotal, patients) = await _index.Explorer.SearchPatientsAsync("", "", null, false, 0, 25);
        Assert.Equal(2, patientTotal);
        Assert.Equal(
            [
                new PatientRow(patient.PublicId, "COUNTED^ONE", "C1", "19700101", "F", 2, 6, 1358, IsProtected: true),
                new PatientRow(empty.PublicId, "COUNTED^TWO", "C2", "", "", 1, 0, 0, IsProtected: false),
            ], patients);
    }

    [Fact]
    public async Task Filters_combine_with_sorting_and_paging_and_count_what_they_match()
    {
        var names = new[] { "DOE^JOHN", "doe^jane", "DOUGLAS^K", "Dö^Umlaut", "ODOE^X", "SMITH^DO", "Do" };
        var modalities = new[] { "CT", "MR", "CT", "US" };
        var descriptions = new[] { "CT Thorax", "THORACIC spine", "Abdomen", "thorax low dose" };
        var all = new List<(Resource Study, Resource Patient, string[] Modalities)>();
        for (var p = 0; p < names.Length * 2; p++)
        {
            var patient = _index.Patient(T(DicomTags.PatientName, names[p % names.Length]), T(DicomTags.PatientID, $"PID{(p * 7) % 10}"));
            for (var s = 0; s < 3; s++)
            {
                var n = all.Count;
                var study = _index.Study(patient, T(DicomTags.StudyDate, $"2020{1 + n % 12:D2}{1 + n % 27:D2}"), T(DicomTags.StudyDescription, descriptions[n % descriptions.Length]));
                var own = new[] { modalities[n % modalities.Length], modalities[(n / 2) % modalities.Length] }.Distinct().ToArray();
                foreach (var m in own) _index.Series(study, T(DicomTags.Modality, m));
                all.Add((study, patient, own));
            }
        }
        await _index.SaveAsync();

        var search = new StudySearch { PatientName = "do", Modality = "ct", Description = "thor", From = new DateOnly(2020, 2, 1), To = new DateOnly(2020, 11, 30) };
        // What those fields mean: a name prefix and a description part regardless of case, a modality of any series, a date range.
        var matches = all.Where(x =>
            Tag(x.Patient, DicomTags.PatientName)!.ToUpperInvariant().StartsWith("DO", StringComparison.Ordinal)
            && x.Modalities.Contains("CT")
            && Tag(x.Study, DicomTags.StudyDescription)!.ToUpperInvariant().Contains("THOR", StringComparison.Ordinal)
            && string.CompareOrdinal(Tag(x.Study, DicomTags.StudyDate), "20200201") >= 0 && string.CompareOrdinal(Tag(x.Study, DicomTags.StudyDate), "20201130") <= 0).ToList();
        Assert.InRange(matches.Count, 5, all.Count - 5);
        Assert.Contains(matches, m => Tag(m.Patient, DicomTags.PatientName) == "Do");

        var model = matches.Select(x => (x.Study, Tag(x.Patient, DicomTags.PatientID), x.Patient.Id)).ToList();
        var shown = await AllPagesAsync(2, matches.Count, async (skip, take) =>
        {
            var (total, rows) = await _index.Explorer.SearchStudiesAsync(search, "PatientId", true, skip, take);
            return (total, rows.Select(r => r.Id));
        });
        Assert.Equal(Expected(model, descending: true), shown);

        // Wildcards as typed (PS3.4 C.2.2.2.4), regardless of case: '?' is one character, '*' any run.
        var (wildTotal, wild) = await _index.Explorer.SearchStudiesAsync(new StudySearch { PatientName = "?oe^j*" }, "StudyDate", false, 0, 100);
        var wildExpected = all.Where(x => Tag(x.Patient, DicomTags.PatientName)!.ToUpperInvariant() is "DOE^JOHN" or "DOE^JANE")
            .Select(x => (x.Study, Tag(x.Study, DicomTags.StudyDate), x.Study.Id)).ToList();
        Assert.Equal(wildExpected.Count, wildTotal);
        Assert.Equal(Expected(wildExpected, descending: false), wild.Select(r => r.Id));

        var (patientsTotal, patients) = await _index.Explorer.SearchPatientsAsync("d", "PID3", "PatientName", false, 0, 100);
        var patientsExpected = all.Select(x => x.Patient).Distinct()
            .Where(p => Tag(p, DicomTags.PatientName)!.ToUpperInvariant().StartsWith('D') && Tag(p, DicomTags.PatientID) == "PID3")
            .Select(p => (p, Tag(p, DicomTags.PatientName), p.Id)).ToList();
        Assert.NotEmpty(patientsExpected);
        Assert.Equal(patientsExpected.Count, patientsTotal);
        Assert.Equal(Expected(patientsExpected, descending: false), patients.Select(p => p.Id));
    }

    [Fact]
    public async Task Patients_sort_by_birth_date_with_the_undated_first()
    {
        var births = new[] { "19800101", null, "19750505", "19800101", "", "20010911", null };
        var patients = births.Select((b, i) => _index.Patient(b is null ? [T(DicomTags.PatientName, $"P{i}")] : [T(DicomTags.PatientName, $"P{i}"), T(DicomTags.PatientBirthDate, b)])).ToList();
        await _index.SaveAsync();
        var model = patients.Select(p => (p, Tag(p, DicomTags.PatientBirthDate), p.Id)).ToList();
        foreach (var descending in new[] { false, true })
        {
            var shown = await AllPagesAsync(2, patients.Count, async (skip, take) =>
            {
                var (total, rows) = await _index.Explorer.SearchPatientsAsync("", "", "BirthDate", descending, skip, take);
                return (total, rows.Select(r => r.Id));
            });
            Assert.Equal(Expected(model, descending), shown);
        }
    }

    [Fact]
    public async Task A_series_lists_its_instances_by_instance_number_as_a_number_then_index_in_series()
    {
        var study = _index.Study(_index.Patient(T(DicomTags.PatientName, "SLICES")));
        var series = _index.Series(study, T(DicomTags.Modality, "CT"));
        // In arrival order (index in series 1..9): text order would put "10" before "9".
        string?[] numbers = ["10", "9", "abc", "1", "007", " 2 ", null, "2", "-3"];
        var instances = numbers.Select(n => _index.Instance(series, 10, 20, n is null ? [] : [T(DicomTags.InstanceNumber, n)])).ToList();
        await _index.SaveAsync();

        // 1, 2 (arrived 6th), 2 (8th), 7, 9, 10, then those without a plain number in arrival order.
        var expected = new[] { 3, 5, 7, 4, 1, 0, 2, 6, 8 }.Select(i => instances[i].PublicId).ToList();
        var shown = await AllPagesAsync(4, numbers.Length, async (skip, take) =>
        {
            var (total, rows) = await _index.Explorer.InstancesPageAsync(series.PublicId, false, skip, take);
            return (total, rows.Select(r => r.Id));
        });
        Assert.Equal(expected, shown);
        var descending = await AllPagesAsync(4, numbers.Length, async (skip, take) =>
        {
            var (total, rows) = await _index.Explorer.InstancesPageAsync(series.PublicId, true, skip, take);
            return (total, rows.Select(r => r.Id));
        });
        Assert.Equal(expected.AsEnumerable().Reverse(), descending);
        Assert.Equal(expected, await _index.Queries.SliceOrderAsync(series.PublicId, default));

        var (_, page) = await _index.Explorer.InstancesPageAsync(series.PublicId, false, 0, 1);
        Assert.Equal(new InstanceRow(instances[3].PublicId, "1", "", "1", 20), page[0]);
        var (unknownTotal, unknownRows) = await _index.Explorer.InstancesPageAsync("no-such-series", false, 0, 10);
        Assert.Equal(0, unknownTotal);
        Assert.Empty(unknownRows);
    }

    [Fact]
    public async Task A_study_lists_its_series_by_series_number_as_a_number_with_counts_and_a_middle_instance()
    {
        var study = _index.Study(_index.Patient(T(DicomTags.PatientName, "SERIES")));
        var ten = _index.Series(study, T(DicomTags.SeriesNumber, "10"), T(DicomTags.Modality, "CT"), T(DicomTags.SeriesDescription, "Axial"), T(DicomTags.BodyPartExamined, "CHEST"));
        var unnumbered = _index.Series(study, T(DicomTags.Modality, "SR"));
        var two = _index.Series(study, T(DicomTags.SeriesNumber, "2"), T(DicomTags.Modality, "CT"));
        for (var i = 0; i < 5; i++) _index.Instance(ten, 1, 1);
        for (var i = 0; i < 2; i++) _index.Instance(two, 1, 1);
        await _index.SaveAsync();
        // The middle one in row order.
        string Middle(Resource series) => series.Children.OrderBy(c => c.Id).ElementAt(series.Children.Count / 2).PublicId;

        Assert.Equal(
            [
                new SeriesRow(two.PublicId, 2, "CT", "", "", 2, Middle(two)),
                new SeriesRow(ten.PublicId, 10, "CT", "Axial", "CHEST", 5, Middle(ten)),
                new SeriesRow(unnumbered.PublicId, null, "SR", "", "", 0, null),
            ], await _index.Explorer.SeriesOfStudyAsync(study.PublicId));
        Assert.Empty(await _index.Explorer.SeriesOfStudyAsync("no-such-study"));
    }

    [Fact]
    public async Task A_page_costs_the_same_number_of_commands_however_many_rows_the_index_holds()
    {
        var firstSeries = await AddPatientsAsync(0, 6);
        var before = await CommandsPerPageAsync(firstSeries);
        await AddPatientsAsync(6, 60);
        var after = await CommandsPerPageAsync(firstSeries);
        Assert.Equal(before, after);
        Assert.All(after, c => Assert.InRange(c.Commands, 1, 8));

        // Nor with the page size.
        _index.Commands.Reset();
        await _index.Explorer.SearchStudiesAsync(new StudySearch(), "PatientName", false, 3, 2);
        var small = _index.Commands.Count;
        _index.Commands.Reset();
        await _index.Explorer.SearchStudiesAsync(new StudySearch(), "PatientName", false, 3, 50);
        Assert.Equal(small, _index.Commands.Count);
    }

    private async Task<Resource> AddPatientsAsync(int from, int count)
    {
        var series = new List<Resource>();
        for (var p = from; p < from + count; p++)
        {
            var patient = _index.Patient(T(DicomTags.PatientName, $"GROWING^{p % 5}"), T(DicomTags.PatientID, $"G{p}"));
            for (var s = 0; s < 3; s++)
            {
                var study = _index.Study(patient, T(DicomTags.StudyDate, $"2020010{1 + s}"), T(DicomTags.StudyDescription, "ABDOMEN"));
                for (var r = 0; r < 2; r++)
                {
                    var se = _index.Series(study, T(DicomTags.Modality, r == 0 ? "CT" : "SR"));
                    for (var i = 0; i < 4; i++) _index.Instance(se, 10, 10, T(DicomTags.InstanceNumber, $"{4 - i}"));
                    series.Add(se);
                }
            }
        }
        await _index.SaveAsync();
        return series[0];
    }

    private async Task<List<(string Case, int Commands)>> CommandsPerPageAsync(Resource series)
    {
        var cases = new (string Name, Func<Task<int>> Run)[]
        {
            ("studies by date", async () => (await _index.Explorer.SearchStudiesAsync(new StudySearch(), null, true, 10, 5)).Rows.Count),
            ("studies by patient name", async () => (await _index.Explorer.SearchStudiesAsync(new StudySearch(), "PatientName", false, 10, 5)).Rows.Count),
            ("studies filtered", async () => (await _index.Explorer.SearchStudiesAsync(new StudySearch { PatientName = "growing", Modality = "CT" }, "Description", false, 1, 5)).Rows.Count),
            ("patients", async () => (await _index.Explorer.SearchPatientsAsync("", "", null, false, 1, 5)).Rows.Count),
            ("instances", async () => (await _index.Explorer.InstancesPageAsync(series.PublicId, false, 1, 2)).Rows.Count),
            ("series", async () => (await _index.Explorer.SeriesOfStudyAsync(series.Parent!.PublicId)).Count),
        };
        var result = new List<(string, int)>();
        foreach (var (name, run) in cases)
        {
            _index.Commands.Reset();
            Assert.True(await run() > 0, name);
            result.Add((name, _index.Commands.Count));
        }
        return result;
    }

    [Fact]
    public async Task Counts_hold_while_the_index_is_unchanged_and_are_taken_again_after_a_change()
    {
        for (var p = 0; p < 3; p++) _index.Study(_index.Patient(T(DicomTags.PatientName, $"KEPT^{p}")), T(DicomTags.StudyDate, "20200101"));
        await _index.SaveAsync();
        async Task<(int Total, List<string> Counts)> PageAsync()
        {
            _index.Commands.Reset();
            var (total, _) = await _index.Explorer.SearchStudiesAsync(new StudySearch(), "PatientName", false, 0, 2);
            return (total, _index.Commands.Texts.Where(t => t.StartsWith("SELECT COUNT(*)", StringComparison.OrdinalIgnoreCase)).ToList());
        }

        var first = await PageAsync();
        Assert.Equal(3, first.Total);
        Assert.NotEmpty(first.Counts);
        var again = await PageAsync();
        Assert.Equal(3, again.Total);
        Assert.Empty(again.Counts);

        _index.Study(_index.Patient(T(DicomTags.PatientName, "KEPT^3")), T(DicomTags.StudyDate, "20200101"));
        await _index.SaveAsync();
        var changed = await PageAsync();
        Assert.Equal(4, changed.Total);
        Assert.Equal(first.Counts, changed.Counts);
    }

    [Fact]
    public async Task A_study_arriving_between_two_pages_moves_the_next_pages_as_an_offset_walk_would()
    {
        // Dates in steps of two days and one undated study: the newcomer lands between rows of the third page.
        var studies = new List<Resource>();
        for (var s = 0; s < 12; s++)
            studies.Add(_index.Study(_index.Patient(T(DicomTags.PatientName, $"MOVING^{s}")), s == 5 ? [] : [T(DicomTags.StudyDate, $"202001{10 + 2 * s:D2}")]));
        await _index.SaveAsync();
        async Task<List<string>> PageAsync(bool descending, int skip) =>
            (await _index.Explorer.SearchStudiesAsync(new StudySearch(), "StudyDate", descending, skip, 3)).Rows.Select(r => r.Id).ToList();
        List<string> ExpectedPage(bool descending, int skip) =>
            Expected(studies.Select(s => (s, Tag(s, DicomTags.StudyDate), s.Id)), descending).Skip(skip).Take(3).ToList();

        foreach (var descending in new[] { true, false })
        {
            // Pages 1 to 3 served, their keys remembered; then a study arrives before the next page's rows.
            for (var skip = 0; skip < 9; skip += 3) Assert.Equal(ExpectedPage(descending, skip), await PageAsync(descending, skip));
            var newest = studies.Count;
            studies.Add(_index.Study(_index.Patient(T(DicomTags.PatientName, $"MOVING^{newest}")), T(DicomTags.StudyDate, descending ? "20200131" : "20200113")));
            await _index.SaveAsync();
            // Forwards, backwards and the same page again: the rows as they are now, none repeated, none lost.
            foreach (var skip in new[] { 9, 6, 3, 6, 12 }) Assert.Equal(ExpectedPage(descending, skip), await PageAsync(descending, skip));
        }
    }

    [Fact]
    public async Task Sorting_by_a_tag_the_level_does_not_hold_is_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _index.Queries.StudiesPageAsync(new PageRequest([], DicomTags.SOPInstanceUID, false, 0, 10), default));
        await Assert.ThrowsAsync<FindException>(() => _index.Queries.StudiesPageAsync(new PageRequest([new FindConstraint(DicomTags.PixelSpacing, "1")], DicomTags.StudyDate, false, 0, 10), default));
    }

    [Fact]
    public async Task A_wildcard_with_a_text_prefix_finds_what_it_found_before_the_prefix_became_a_range()
    {
        var values = new[] { "DO", "Do^Re", "DOE", "dOz", "DP", "DN", "D", "XDO", "DO_", "DO%X" };
        var patients = values.Select(v => _index.Patient(T(DicomTags.PatientName, v))).ToList();
        await _index.SaveAsync();
        async Task<IEnumerable<string>> Find(string pattern, bool caseSensitive) =>
            (await _index.Queries.FindAsync(new FindRequest(ResourceLevel.Patient, [new FindConstraint(DicomTags.PatientName, pattern)], caseSensitive), default)).Order();
        IEnumerable<string> Where(Func<string, bool> match) => patients.Where(p => match(Tag(p, DicomTags.PatientName)!)).Select(p => p.PublicId).Order();

        Assert.Equal(Where(v => v.ToUpperInvariant().StartsWith("DO", StringComparison.Ordinal)), await Find("do*", caseSensitive: false));
        Assert.Equal(Where(v => v.StartsWith("Do", StringComparison.Ordinal)), await Find("Do*", caseSensitive: true));
        Assert.Equal(Where(v => v.ToUpperInvariant() is ['D', 'O', _]), await Find("do?", caseSensitive: false));
        Assert.Equal(Where(v => v == "DO_"), await Find("DO_*", caseSensitive: false));
        Assert.Equal(Where(v => v.StartsWith("DO%", StringComparison.Ordinal)), await Find("DO%*", caseSensitive: false));
    }
}

public sealed class ResourcePagesOnSqliteTests() : ResourcePagesTests(IndexDatabase.Sqlite);

public sealed class ResourcePagesOnPostgreSqlTests() : ResourcePagesTests(IndexDatabase.PostgreSql);
