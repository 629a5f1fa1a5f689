using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Jobs;

namespace OrthancWeb.Modification;

/// <summary>A merge as a job (Orthanc's "MergeStudy"): its Content is the request, then the result.</summary>
public sealed class MergeStudyJob(StudyReorganization studies, PseudonymKeys keys) : IJobHandler
{
    public const string JobType = "MergeStudy";

    public string Type => JobType;

    public static JsonObject Content(string targetStudy, MergeStudyRequest request) =>
        Job.ContentOf(new MergeStudyParameters { TargetStudy = targetStudy, Request = request });

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var parameters = job.ContentAs<MergeStudyParameters>();
        var result = await studies.MergeAsync(parameters.TargetStudy, parameters.Request, await StudyJobUids.ForAsync(keys, job, ct), StudyJobUids.Steps(progress), ct);
        return result.ToJson();
    }
}

/// <summary>A split as a job (Orthanc's "SplitStudy").</summary>
public sealed class SplitStudyJob(StudyReorganization studies, PseudonymKeys keys) : IJobHandler
{
    public const string JobType = "SplitStudy";

    public string Type => JobType;

    public static JsonObject Content(string study, SplitStudyRequest request) =>
        Job.ContentOf(new SplitStudyParameters { Study = study, Request = request });

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var parameters = job.ContentAs<SplitStudyParameters>();
        var result = await studies.SplitAsync(parameters.Study, parameters.Request, await StudyJobUids.ForAsync(keys, job, ct), StudyJobUids.Steps(progress), ct);
        return result.ToJson();
    }
}

public sealed record MergeStudyParameters
{
    public required string TargetStudy { get; init; }
    public required MergeStudyRequest Request { get; init; }
}

public sealed record SplitStudyParameters
{
    public required string Study { get; init; }
    public required SplitStudyRequest Request { get; init; }
}

internal static class StudyJobUids
{
    /// <summary>
    /// Keyed by the job, as <see cref="ResourceModificationJob"/>: a resumed or retried run gives the copies the same
    /// UIDs, so what the interrupted run stored is found "already stored" instead of being copied twice.
    /// </summary>
    public static async Task<UidMap> ForAsync(PseudonymKeys keys, Job job, CancellationToken ct) => new(await keys.KeyForAsync("job:" + job.Id, ct));

    public static IProgress<(int Done, int Total)> Steps(IProgress<double> progress) =>
        new ImmediateProgress<(int Done, int Total)>(p => progress.Report(100.0 * p.Done / Math.Max(1, p.Total)));
}
