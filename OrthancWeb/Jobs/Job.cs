using System.Text.Json;
using System.Text.Json.Nodes;
using OrthancWeb.Requests;
using OrthancWeb.Security;

namespace OrthancWeb.Jobs;

/// <summary>Orthanc's job states (GET /jobs/{id} "State").</summary>
public enum JobState
{
    Pending,
    Running,
    Success,
    Failure,
    Paused,
    /// <summary>Failed, and will run again after its retry delay.</summary>
    Retry,
}

/// <summary>
/// One long operation: what to do (Type and Content, which its handler reads), where it is, and how it ended. Saved
/// as JSON after every change of state so that it survives a restart.
/// </summary>
public sealed class Job
{
    public required string Id { get; init; }
    public required string Type { get; init; }
    public int Priority { get; set; }
    public JobState State { get; set; } = JobState.Pending;
    /// <summary>0 to 100.</summary>
    public double Progress { get; set; }
    /// <summary>Set by the engine, from its clock.</summary>
    public DateTime CreationTime { get; init; }
    public DateTime? CompletionTime { get; set; }
    public double EffectiveRuntime { get; set; }
    public JsonObject Content { get; set; } = [];
    public JsonObject? Result { get; set; }
    public string ErrorDescription { get; set; } = "Success";
    public string ErrorDetails { get; set; } = "";
    public int Attempts { get; set; }
    public int MaxRetries { get; set; }
    public int RetryDelaySeconds { get; set; } = 10;
    public DateTime? NextAttempt { get; set; }
    public string? User { get; init; }

    public bool IsFinished => State is JobState.Success or JobState.Failure;

    /// <summary>
    /// The job's parameters, typed. <see cref="Content"/> stays the JSON object Orthanc shows and the jobs folder keeps,
    /// so jobs saved by earlier versions load as they are; a field of the wrong type names itself in the exception.
    /// </summary>
    public T ContentAs<T>() => Content.Deserialize<T>(RequestJson.Options) ?? throw new JsonException("The job has no content");

    /// <summary>The <see cref="Content"/> of a job with these parameters.</summary>
    public static JsonObject ContentOf<T>(T parameters) => JsonSerializer.SerializeToNode(parameters, RequestJson.Options)!.AsObject();
}

/// <summary>Runs one type of job. It reads the job's Content, reports progress, and returns what the job produced.</summary>
public interface IJobHandler
{
    string Type { get; }

    /// <summary>What a user must be allowed to submit this job (an export only reads; most jobs change or send data).</summary>
    string Policy => Policies.Modify;

    Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct);
}

/// <summary>
/// Progress reported on the caller's thread, at once. (System.Progress posts each report to the thread pool, so a
/// late 25 % could land after the job had finished at 100 %.)
/// </summary>
public sealed class ImmediateProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
