namespace OrthancWeb.Audit;

/// <summary>
/// One entry of the audit trail: who did what to which patient's data, when, from where, and with what outcome
/// (the questions of PS3.15 A.5's audit messages). Fields left null are filled from the ambient <see cref="AuditActor"/>
/// when the event is recorded.
/// </summary>
public sealed record AuditEvent(string Action, AuditOutcome Outcome)
{
    /// <summary>The user name, or the calling AE title for a DICOM peer; null for the server's own work.</summary>
    public string? User { get; init; }

    /// <summary>The peer's network address.</summary>
    public string? Address { get; init; }

    /// <summary>Where the request came in: <see cref="AuditSources"/>.</summary>
    public string? Source { get; init; }

    /// <summary>The DICOM PatientID (0010,0020) of the data concerned, when there is one.</summary>
    public string? PatientId { get; init; }

    /// <summary>The resource concerned: its level (Patient, Study, Series, Instance, Job, User, ...) and identifier.</summary>
    public string? ResourceLevel { get; init; }

    public string? ResourceId { get; init; }

    /// <summary>The StudyInstanceUID, when known (PS3.15 A.5.2.4 participant object of type Study).</summary>
    public string? StudyInstanceUid { get; init; }

    /// <summary>Free text: the failure's reason, the number of instances, the remote AE of a send, ...</summary>
    public string? Details { get; init; }
}

/// <summary>The event's outcome, with PS3.15 A.5.1's EventOutcomeIndicator values.</summary>
public enum AuditOutcome
{
    Success = 0,
    MinorFailure = 4,
    SeriousFailure = 8,
    MajorFailure = 12,
}

/// <summary>The names of audited actions, one vocabulary for every part of the server.</summary>
public static class AuditActions
{
    public const string Login = "Login";
    public const string LoginFailed = "LoginFailed";
    public const string Lockout = "Lockout";
    public const string Logout = "Logout";
    public const string AccountChanged = "AccountChanged";
    public const string ConfigurationChanged = "ConfigurationChanged";
    public const string View = "View";
    public const string Download = "Download";
    public const string Archive = "Archive";
    public const string Export = "Export";
    public const string Upload = "Upload";
    public const string Send = "Send";
    public const string Retrieve = "Retrieve";
    public const string Query = "Query";
    public const string Anonymize = "Anonymize";
    public const string Modify = "Modify";
    public const string Delete = "Delete";
    public const string Association = "Association";
    public const string AssociationRejected = "AssociationRejected";
    public const string CStore = "C-STORE";
    public const string CFind = "C-FIND";
    public const string CMove = "C-MOVE";
    public const string CGet = "C-GET";
    public const string SecurityAlert = "SecurityAlert";
    public const string JobCanceled = "JobCanceled";
    /// <summary>A cancel, pause, resume or resubmit of a job run by another server sharing the index: asked (on the requesting server) or applied (on the owner).</summary>
    public const string JobRequest = "JobRequest";
    /// <summary>Lua code run through POST /tools/execute-script.</summary>
    public const string ExecuteScript = "ExecuteScript";
    /// <summary>A storage commitment request (N-ACTION, PS3.4 J.3.2), asked of us or by us.</summary>
    public const string StorageCommitment = "StorageCommitment";
    /// <summary>A storage commitment report (N-EVENT-REPORT, PS3.4 J.3.3), sent by us or received.</summary>
    public const string StorageCommitmentReport = "StorageCommitmentReport";

    /// <summary>A backup of the whole server (index, files, audit trail, accounts) written to a folder: POST /tools/backup or the UI.</summary>
    public const string Backup = "Backup";

    /// <summary>Events that could not be queued (the writer fell behind): how many and since when, recorded in their place.</summary>
    public const string AuditGap = "AuditGap";

    /// <summary>Retention removed old entries; the details name the chain anchor left behind.</summary>
    public const string AuditPruned = "AuditPruned";

    /// <summary>Someone read or verified the trail (PS3.15 A.5.3.2 Audit Log Used).</summary>
    public const string AuditLogUsed = "AuditLogUsed";
}

/// <summary>Where a request came in.</summary>
public static class AuditSources
{
    public const string Ui = "UI";
    public const string Rest = "REST";
    public const string Dicom = "DICOM";
    public const string Server = "Server";
}
