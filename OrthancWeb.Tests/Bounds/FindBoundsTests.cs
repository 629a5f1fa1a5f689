using System.Data.Common;
using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;
using OrthancWeb.Tests.Components;

namespace OrthancWeb.Tests.Bounds;

/// <summary>
/// Issue 15, point 4: a planted StudyDescription and a "*A*A*A*A*A*A*A*B" find. The case-sensitive match used to be a
/// backtracking regex (49 s per value, deaf to cancellation); it is linear now, and a cancelled find stops.
/// </summary>
[Collection("Bounds")]
public sealed class FindBoundsTests : IAsyncLifetime
{
    private RealServiceHost _host = null!;
    private const string Attack = "*A*A*A*A*A*A*A*B";
    // 64 characters, the most an LO holds: 'b' passes the case-insensitive LIKE the index narrows with, then fails 'B'.
    private static readonly string Planted = new string('A', 63) + "b";

    public async Task InitializeAsync()
    {
        _host = await RealServiceHost.StartAsync("ow-findbounds-");
        await using var db = await _host.Get<IDbContextFactory<IndexDbContext>>().CreateDbContextAsync();
        var patient = new Resource { Level = ResourceLevel.Patient, PublicId = "patient", LastUpdate = DateTime.UtcNow };
        for (var i = 0; i < 20; i++)
        {
            var study = new Resource { Level = ResourceLevel.Study, PublicId = $"study-{i}", LastUpdate = DateTime.UtcNow };
            study.Tags.Add(new MainDicomTag { Tag = (int)DicomTags.StudyDescription.Value, Value = Planted, ValueUpper = Planted.ToUpperInvariant() });
            patient.Children.Add(study);
        }
        db.Resources.Add(patient);
        await db.SaveChangesAsync();
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static FindRequest AttackFind => new(ResourceLevel.Study, [new FindConstraint(DicomTags.StudyDescription, Attack)], CaseSensitive: true);

    [Fact]
    public async Task The_attack_find_answers_at_once_and_still_matches_what_it_should()
    {
        var queries = _host.Get<IndexQueries>();
        var watch = Stopwatch.StartNew();
        var found = await queries.FindAsync(AttackFind, default).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(found);
        Assert.True(watch.ElapsedMilliseconds < 1000, $"{watch.ElapsedMilliseconds} ms");
        // Case-sensitive still means it: "*A*b" matches the planted values, "*A*B" only case-insensitively.
        Assert.Equal(20, (await queries.FindAsync(new FindRequest(ResourceLevel.Study, [new FindConstraint(DicomTags.StudyDescription, "*A*b")]), default)).Count);
        Assert.Equal(20, (await queries.FindAsync(AttackFind with { CaseSensitive = false }, default)).Count);
    }

    /// <summary>
    /// Cancelled just after the index has read the candidate values (the client went away): the find stops there with
    /// a cancellation, instead of matching every value first (minutes, with the regex).
    /// </summary>
    [Fact]
    public async Task A_find_cancelled_while_it_matches_stops()
    {
        using var cts = new CancellationTokenSource();
        string connection;
        await using (var db = await _host.Get<IDbContextFactory<IndexDbContext>>().CreateDbContextAsync())
            connection = db.Database.GetConnectionString()!;
        var options = new DbContextOptionsBuilder<IndexDbContext>()
            .UseSqlite(connection, s => s.UseParameterizedCollectionMode(ParameterTranslationMode.Parameter))
            .AddInterceptors(new CancelWhenLikeReaderCloses(cts)).Options;
        var queries = new IndexQueries(new Factory(options));
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queries.FindAsync(AttackFind, cts.Token).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(cts.IsCancellationRequested);
        Assert.True(watch.ElapsedMilliseconds < 2000, $"{watch.ElapsedMilliseconds} ms");
    }

    private sealed class Factory(DbContextOptions<IndexDbContext> options) : IDbContextFactory<IndexDbContext>
    {
        public IndexDbContext CreateDbContext() => new(options);
    }

    private sealed class CancelWhenLikeReaderCloses(CancellationTokenSource cts) : DbCommandInterceptor
    {
        public override ValueTask<InterceptionResult> DataReaderClosingAsync(DbCommand command, DataReaderClosingEventData eventData, InterceptionResult result)
        {
            if (command.CommandText.Contains("LIKE", StringComparison.Ordinal)) cts.Cancel();
            return ValueTask.FromResult(result);
        }

        public override InterceptionResult DataReaderClosing(DbCommand command, DataReaderClosingEventData eventData, InterceptionResult result)
        {
            if (command.CommandText.Contains("LIKE", StringComparison.Ordinal)) cts.Cancel();
            return result;
        }
    }
}
