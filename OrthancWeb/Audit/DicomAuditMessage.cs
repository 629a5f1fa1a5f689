using System.Globalization;
using System.Net;
using System.Xml.Linq;

namespace OrthancWeb.Audit;

/// <summary>
/// An entry as a DICOM audit message (PS3.15 A.5, the schema of DICOM Audit Messages; the codes are PS3.16's DCM and
/// the IETF RFC 3881 ones the schema keeps): EventIdentification, the active participants (the requestor and this
/// server), AuditSourceIdentification, and the patient and study as participant objects.
/// </summary>
public static class DicomAuditMessage
{
    /// <summary>A coded value in A.5's form: csd-code, codeSystemName, originalText (PS3.15 A.5.1).</summary>
    public sealed record Code(string Value, string System, string Meaning);

    // PS3.16 CID 400 Audit Event ID.
    public static readonly Code ApplicationActivity = new("110100", "DCM", "Application Activity");
    public static readonly Code AuditLogUsed = new("110101", "DCM", "Audit Log Used");
    public static readonly Code InstancesAccessed = new("110103", "DCM", "DICOM Instances Accessed");
    public static readonly Code InstancesTransferred = new("110104", "DCM", "DICOM Instances Transferred");
    public static readonly Code StudyDeleted = new("110105", "DCM", "DICOM Study Deleted");
    public static readonly Code Export = new("110106", "DCM", "Export");
    public static readonly Code Import = new("110107", "DCM", "Import");
    public static readonly Code PatientRecord = new("110110", "DCM", "Patient Record");
    public static readonly Code Query = new("110112", "DCM", "Query");
    public static readonly Code SecurityAlert = new("110113", "DCM", "Security Alert");
    public static readonly Code UserAuthentication = new("110114", "DCM", "User Authentication");

    // PS3.16 CID 401 Audit Event Type Code (the ones used here).
    public static readonly Code Login = new("110122", "DCM", "Login");
    public static readonly Code Logout = new("110123", "DCM", "Logout");
    public static readonly Code NodeAuthentication = new("110126", "DCM", "Node Authentication");
    public static readonly Code NetworkConfiguration = new("110128", "DCM", "Network Configuration");
    public static readonly Code AuditRecordingStopped = new("110133", "DCM", "Audit Recording Stopped");
    public static readonly Code UserSecurityAttributesChanged = new("110137", "DCM", "User Security Attributes Changed");

    // PS3.16 CID 402 Audit Active Participant Role ID.
    public static readonly Code DestinationRole = new("110152", "DCM", "Destination Role ID");
    public static readonly Code SourceRole = new("110153", "DCM", "Source Role ID");

    // Participant object ID types (PS3.15 A.5.2.4 / RFC 3881 and CID 404).
    public static readonly Code PatientNumber = new("2", "RFC-3881", "Patient Number");
    public static readonly Code StudyInstanceUid = new("110180", "DCM", "Study Instance UID");
    public static readonly Code UserIdentifier = new("11", "RFC-3881", "User Identifier");

    /// <summary>EventID, EventActionCode (C, R, U, D, E), optional EventTypeCode, and this server's role in a transfer.</summary>
    public sealed record EventKind(Code EventId, char ActionCode, Code? EventType, bool ServerIsSource, bool ServerIsDestination);

    public static EventKind KindOf(string action, string? resourceLevel) => action switch
    {
        AuditActions.Login or AuditActions.LoginFailed => new(UserAuthentication, 'E', Login, false, false),
        AuditActions.Logout => new(UserAuthentication, 'E', Logout, false, false),
        AuditActions.Lockout or AuditActions.AccountChanged => new(SecurityAlert, 'E', UserSecurityAttributesChanged, false, false),
        AuditActions.ConfigurationChanged => new(SecurityAlert, 'E', NetworkConfiguration, false, false),
        AuditActions.SecurityAlert => new(SecurityAlert, 'E', null, false, false),
        AuditActions.AuditGap => new(SecurityAlert, 'E', AuditRecordingStopped, false, false),
        AuditActions.AuditPruned => new(AuditLogUsed, 'D', null, false, false),
        AuditActions.AuditLogUsed => new(AuditLogUsed, 'R', null, false, false),
        AuditActions.Association or AuditActions.AssociationRejected => new(SecurityAlert, 'E', NodeAuthentication, false, false),
        AuditActions.View => new(InstancesAccessed, 'R', null, false, false),
        AuditActions.Download or AuditActions.Archive or AuditActions.Export or AuditActions.Backup => new(Export, 'R', null, true, false),
        AuditActions.Upload => new(Import, 'C', null, false, true),
        AuditActions.CStore => new(InstancesTransferred, 'C', null, false, true),
        AuditActions.Send or AuditActions.CMove or AuditActions.CGet => new(InstancesTransferred, 'R', null, true, false),
        AuditActions.Retrieve => new(InstancesTransferred, 'C', null, false, true),
        AuditActions.Query or AuditActions.CFind => new(Query, 'E', null, false, false),
        AuditActions.Anonymize => new(InstancesAccessed, 'C', null, false, false),
        AuditActions.Modify => new(InstancesAccessed, 'U', null, false, false),
        // A whole study (or patient) gone is A.5.3.5 DICOM Study Deleted; fewer instances are accessed with "D".
        AuditActions.Delete when resourceLevel is "Patient" or "Study" => new(StudyDeleted, 'D', null, false, false),
        AuditActions.Delete => new(InstancesAccessed, 'D', null, false, false),
        _ => new(ApplicationActivity, 'E', null, false, false),
    };

    /// <summary>The message for one entry, as an &lt;AuditMessage&gt; element (no namespace, as the schema has none).</summary>
    public static XElement Build(AuditEntry e, string auditSourceId, string serverHost)
    {
        var kind = KindOf(e.Action, e.ResourceLevel);
        var identification = new XElement("EventIdentification",
            new XAttribute("EventActionCode", kind.ActionCode.ToString()),
            new XAttribute("EventDateTime", DateTime.SpecifyKind(e.Time, DateTimeKind.Utc).ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture)),
            new XAttribute("EventOutcomeIndicator", ((int)e.Outcome).ToString(CultureInfo.InvariantCulture)),
            Coded("EventID", kind.EventId));
        if (kind.EventType is not null) identification.Add(Coded("EventTypeCode", kind.EventType));
        if (e.Outcome != AuditOutcome.Success && !string.IsNullOrEmpty(e.Details))
            identification.Add(new XElement("EventOutcomeDescription", e.Details));

        var message = new XElement("AuditMessage", identification);

        // The requestor: a person through the UI or REST, an application entity over DICOM; the server's own work has none.
        if (e.User is not null || e.Address is not null)
        {
            var requestor = new XElement("ActiveParticipant",
                new XAttribute("UserID", e.User ?? e.Address!),
                new XAttribute("UserIsRequestor", "true"));
            AddAccessPoint(requestor, e.Address);
            if (kind.ServerIsSource) requestor.Add(Coded("RoleIDCode", DestinationRole));
            else if (kind.ServerIsDestination) requestor.Add(Coded("RoleIDCode", SourceRole));
            message.Add(requestor);
        }
        var server = new XElement("ActiveParticipant",
            new XAttribute("UserID", auditSourceId),
            new XAttribute("AlternativeUserID", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)),
            new XAttribute("UserIsRequestor", e.User is null && e.Address is null ? "true" : "false"));
        AddAccessPoint(server, serverHost);
        if (kind.ServerIsSource) server.Add(Coded("RoleIDCode", SourceRole));
        else if (kind.ServerIsDestination) server.Add(Coded("RoleIDCode", DestinationRole));
        message.Add(server);

        // Type code 4: application server process tier (PS3.15 A.5.1, RFC 3881 5.4).
        message.Add(new XElement("AuditSourceIdentification",
            new XAttribute("AuditSourceID", auditSourceId),
            new XElement("AuditSourceTypeCode", new XAttribute("csd-code", "4"))));

        if (!string.IsNullOrEmpty(e.StudyInstanceUid))
        {
            // Type 2 (system object), role 3 (report): PS3.15 A.5.2.4's study participant.
            message.Add(new XElement("ParticipantObjectIdentification",
                new XAttribute("ParticipantObjectID", e.StudyInstanceUid),
                new XAttribute("ParticipantObjectTypeCode", "2"),
                new XAttribute("ParticipantObjectTypeCodeRole", "3"),
                Coded("ParticipantObjectIDTypeCode", StudyInstanceUid)));
        }
        if (!string.IsNullOrEmpty(e.PatientId))
        {
            // Type 1 (person), role 1 (patient), ID type 2 (patient number).
            message.Add(new XElement("ParticipantObjectIdentification",
                new XAttribute("ParticipantObjectID", e.PatientId),
                new XAttribute("ParticipantObjectTypeCode", "1"),
                new XAttribute("ParticipantObjectTypeCodeRole", "1"),
                Coded("ParticipantObjectIDTypeCode", PatientNumber)));
        }
        if (e.ResourceLevel == "User" && !string.IsNullOrEmpty(e.ResourceId))
        {
            // The account changed: type 1 (person), role 11 (security user entity), ID type 11 (user identifier).
            message.Add(new XElement("ParticipantObjectIdentification",
                new XAttribute("ParticipantObjectID", e.ResourceId),
                new XAttribute("ParticipantObjectTypeCode", "1"),
                new XAttribute("ParticipantObjectTypeCodeRole", "11"),
                Coded("ParticipantObjectIDTypeCode", UserIdentifier)));
        }
        return message;
    }

    /// <summary>One message as an XML document (UTF-8, with its declaration).</summary>
    public static string ToXml(AuditEntry e, string auditSourceId, string serverHost) =>
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + Build(e, auditSourceId, serverHost).ToString(SaveOptions.DisableFormatting);

    private static XElement Coded(string name, Code code) => new(name,
        new XAttribute("csd-code", code.Value),
        new XAttribute("codeSystemName", code.System),
        new XAttribute("originalText", code.Meaning));

    /// <summary>NetworkAccessPointTypeCode: 1 machine name, 2 IP address (PS3.15 A.5.2.1).</summary>
    private static void AddAccessPoint(XElement participant, string? address)
    {
        if (string.IsNullOrEmpty(address)) return;
        participant.Add(new XAttribute("NetworkAccessPointID", address),
            new XAttribute("NetworkAccessPointTypeCode", IPAddress.TryParse(address, out _) ? "2" : "1"));
    }
}
