using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using OrthancWeb.Requests;

namespace OrthancWeb.Networking;

/// <summary>DICOM network settings, under "OrthancWeb" with Orthanc's names.</summary>
public sealed class DicomOptions : IValidatableObject
{
    public bool DicomServerEnabled { get; set; } = true;

    [Required, RegularExpression("^[ -~]{1,16}$", ErrorMessage = "DicomAet must be 1 to 16 printable ASCII characters")]
    public string DicomAet { get; set; } = "ORTHANCWEB";

    [Range(0, 65535)]
    public int DicomPort { get; set; } = 4242;

    /// <summary>Refuse associations whose called AE title is not ours.</summary>
    public bool DicomCheckCalledAet { get; set; }

    /// <summary>Unknown calling AEs may still C-ECHO / C-STORE; query and retrieve always need a known modality.</summary>
    public bool DicomAlwaysAllowEcho { get; set; } = true;

    /// <summary>
    /// The transfer syntaxes accepted for storage, as UIDs or patterns ("1.2.840.10008.1.2.4.*"): Orthanc's option.
    /// All when empty (the default: a default list would be added to, not replaced, by the configuration binder).
    /// REST /tools/accepted-transfer-syntaxes changes them until the server stops.
    /// </summary>
    public List<string> AcceptedTransferSyntaxes { get; set; } = [];

    /// <summary>Stores instances of SOP classes the dictionary does not know (a vendor's private ones); off, as in Orthanc.</summary>
    public bool UnknownSopClassAccepted { get; set; }
    public bool DicomAlwaysAllowStore { get; set; } = true;

    [Range(1, 1000)]
    public int DicomMaximumAssociations { get; set; } = 32;

    /// <summary>Seconds without a PDU before an association is aborted.</summary>
    [Range(1, 86400)]
    public int DicomAssociationTimeout { get; set; } = 300;

    /// <summary>
    /// Seconds our SCU waits for a peer to accept the connection and answer the association request (and a C-ECHO
    /// to answer), as Orthanc's DicomScuTimeout: a silent modality is reported, not waited on.
    /// </summary>
    [Range(1, 3600)]
    public int DicomScuTimeout { get; set; } = 10;

    /// <summary>The modalities we know, by a name of our choosing.</summary>
    public Dictionary<string, ModalityOptions> DicomModalities { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// A calling AE title is a known modality only from the address of its Host (a name is resolved; a loopback peer
    /// matches only a loopback or "localhost" Host). Anyone can send any AE title: without this check, trust is the
    /// title alone. Orthanc's name; its default is false, ours true.
    /// </summary>
    public bool DicomCheckModalityHost { get; set; } = true;

    /// <summary>Compare AE titles case-sensitively (Orthanc's name and default: false, AE titles match whatever their case).</summary>
    public bool StrictAetComparison { get; set; }

    /// <summary>Associations one address may hold at once, unless it is a known modality (from its Host).</summary>
    [Range(1, 1000)]
    public int DicomMaximumAssociationsPerHost { get; set; } = 8;

    /// <summary>Of DicomMaximumAssociations, how many only known modalities may take: unknown peers cannot fill the server.</summary>
    [Range(0, 999)]
    public int DicomReservedAssociationsForModalities { get; set; } = 4;

    /// <summary>
    /// Seconds a new connection has to send its A-ASSOCIATE-RQ (and finish its TLS handshake), and an accepted
    /// association its first PDU; a connection that stays silent is closed and frees its slot.
    /// </summary>
    [Range(1, 3600)]
    public int DicomAssociationSetupTimeout { get; set; } = 10;

    /// <summary>DICOM TLS (PS3.15 Annex B.1) on DicomPort, as Orthanc: the port then speaks TLS only.</summary>
    public bool DicomTlsEnabled { get; set; }

    /// <summary>Our certificate: a PEM file (with DicomTlsPrivateKey) or a PKCS#12 file (.pfx/.p12, with DicomTlsCertificatePassword).</summary>
    public string DicomTlsCertificate { get; set; } = "";

    /// <summary>The PEM private key of DicomTlsCertificate.</summary>
    public string DicomTlsPrivateKey { get; set; } = "";

    /// <summary>The password of a PKCS#12 DicomTlsCertificate, if any.</summary>
    public string DicomTlsCertificatePassword { get; set; } = "";

    /// <summary>PEM bundle of the certificates (CAs or the peers' own) that peers' certificates must chain to.</summary>
    public string DicomTlsTrustedCertificates { get; set; } = "";

    /// <summary>SCUs must present a certificate that chains to DicomTlsTrustedCertificates (Orthanc's name and default).</summary>
    public bool DicomTlsRemoteCertificateRequired { get; set; } = true;

    /// <summary>C-FIND results kept for /queries; the least recently used goes first (Orthanc's name and default).</summary>
    [Range(1, 100000)]
    public int QueryRetrieveSize { get; set; } = 100;

    // --- Query/Retrieve as an SCU (issue 18) ---

    /// <summary>
    /// How /queries/.../retrieve brings resources back from a modality whose RetrieveMethod is SystemDefault: C-MOVE or
    /// C-GET (Orthanc 1.12.6's name and default, C-MOVE).
    /// </summary>
    public string DicomDefaultRetrieveMethod { get; set; } = RetrieveMethods.Move;

    /// <summary>
    /// Answers kept of one C-FIND: past it the query is cancelled (C-CANCEL, PS3.7 §9.1.2.1) and marked truncated, so
    /// one "*" against a large archive cannot fill the memory. Ours; Orthanc keeps them all.
    /// </summary>
    [Range(1, 1000000)]
    public int QueryRetrieveMaximumAnswers { get; set; } = 1000;

    // --- end of Query/Retrieve ---

    // --- Storage commitment (PS3.4 Annex J) ---

    /// <summary>
    /// Seconds a store job that asked for storage commitment waits for the report (N-EVENT-REPORT) of a modality whose
    /// Timeout is 0; past it the job fails. Ours: Orthanc does not wait, its report arrives whenever it does.
    /// </summary>
    [Range(1, 86400)]
    public int DicomStorageCommitmentTimeout { get; set; } = 60;

    /// <summary>
    /// Milliseconds we wait, once a commitment request is answered, for the requester to release its association: if
    /// it does (Orthanc does at once), the report goes on a new association we open to it; if it keeps the association
    /// open, the report goes on that association (PS3.4 J.3.3 allows both).
    /// </summary>
    [Range(0, 60000)]
    public int DicomStorageCommitmentReleaseWindow { get; set; } = 500;

    /// <summary>Storage commitment transactions of ours kept for GET /storage-commitment/{id}, the least recently used dropped first (Orthanc's name and default).</summary>
    [Range(1, 100000)]
    public int StorageCommitmentReportsSize { get; set; } = 100;

    // --- end of storage commitment ---

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var pattern in AcceptedTransferSyntaxes)
            if (DicomAcceptance.Matching([pattern]).Count == 0)
                yield return new ValidationResult($"AcceptedTransferSyntaxes: '{pattern}' matches no transfer syntax", [nameof(AcceptedTransferSyntaxes)]);
        if (!RetrieveMethods.IsMethod(DicomDefaultRetrieveMethod))
            yield return new ValidationResult($"DicomDefaultRetrieveMethod must be {RetrieveMethods.Move} or {RetrieveMethods.Get}, not '{DicomDefaultRetrieveMethod}'",
                [nameof(DicomDefaultRetrieveMethod)]);
        // Entries are validated here, at start-up, with the same rules as a PUT /modalities/{name}.
        foreach (var (name, modality) in DicomModalities)
            foreach (var error in modality.Check())
                yield return new ValidationResult($"DicomModalities:{name}: {error}", [nameof(DicomModalities)]);
        if (DicomReservedAssociationsForModalities >= DicomMaximumAssociations)
            yield return new ValidationResult("DicomReservedAssociationsForModalities must be less than DicomMaximumAssociations",
                [nameof(DicomReservedAssociationsForModalities)]);
        var usesTls = DicomTlsEnabled || DicomModalities.Values.Any(m => m.UseDicomTls);
        if (usesTls && (DicomTlsCertificate.Length == 0 || DicomTlsTrustedCertificates.Length == 0))
            yield return new ValidationResult("DICOM TLS (DicomTlsEnabled or a modality's UseDicomTls) needs DicomTlsCertificate and DicomTlsTrustedCertificates",
                [nameof(DicomTlsCertificate)]);
        if (DicomTlsCertificate.Length > 0 && !DicomTls.IsPkcs12(DicomTlsCertificate) && DicomTlsPrivateKey.Length == 0)
            yield return new ValidationResult("A PEM DicomTlsCertificate needs its DicomTlsPrivateKey", [nameof(DicomTlsPrivateKey)]);
    }
}

/// <summary>One remote DICOM node (Orthanc's DicomModalities entry in its object form; ["AET", "host", port] also reads).</summary>
public sealed class ModalityOptions : IShorthandBody<ModalityOptions>, IValidatableObject
{
    [Required] public string AET { get; set; } = "";
    [Required] public string Host { get; set; } = "127.0.0.1";
    [Range(1, 65535)] public int Port { get; set; } = 104;
    public string Manufacturer { get; set; } = "Generic";
    public bool AllowEcho { get; set; } = true;
    public bool AllowFind { get; set; } = true;
    /// <summary>Modality Worklist C-FIND (PS3.4 K); refused with a DIMSE failure status when false.</summary>
    public bool AllowFindWorklist { get; set; } = true;
    public bool AllowMove { get; set; } = true;
    /// <summary>Off unless asked for: a C-GET sends data back on the caller's own association, to whoever holds the AE title.</summary>
    public bool AllowGet { get; set; }
    public bool AllowStore { get; set; } = true;
    /// <summary>Whether this modality may ask us to commit to instances (Storage Commitment N-ACTION, PS3.4 J.3.2); Orthanc's name and default.</summary>
    public bool AllowStorageCommitment { get; set; } = true;
    /// <summary>Reach this modality over DICOM TLS (our certificate, its certificate checked against DicomTlsTrustedCertificates).</summary>
    public bool UseDicomTls { get; set; }

    // --- Query/Retrieve settings of one modality (issue 18), Orthanc's names ---

    /// <summary>Our calling AE title towards this modality; DicomAet when empty (Orthanc 1.9's LocalAet).</summary>
    public string? LocalAet { get; set; }

    /// <summary>Seconds to connect, negotiate and wait for each answer of this modality; DicomScuTimeout when 0 (Orthanc's Timeout).</summary>
    [Range(0, 86400)]
    public int Timeout { get; set; }

    /// <summary>C-MOVE, C-GET, or SystemDefault (DicomDefaultRetrieveMethod): how /queries/.../retrieve and the Query/Retrieve page bring resources back.</summary>
    public string RetrieveMethod { get; set; } = RetrieveMethods.SystemDefault;

    /// <summary>
    /// Whether an instance may be sent to this modality in another transfer syntax than the stored one (decompressed, or
    /// encoded losslessly); false sends it as stored or not at all (Orthanc 1.7's AllowTranscoding).
    /// </summary>
    public bool AllowTranscoding { get; set; } = true;

    /// <summary>
    /// Transfer syntax UID proposed first to this modality: for the instances a C-GET brings back, and for C-STORE
    /// when the stored syntax is not accepted (any syntax we decode to or encode). Empty: the stored syntax, then the
    /// uncompressed ones, then the lossless ones we encode.
    /// </summary>
    public string? PreferredTransferSyntax { get; set; }

    /// <summary>Why this entry is invalid (empty when it is valid): at start-up and on PUT /modalities/{name}, one rule set.</summary>
    public IEnumerable<string> Check()
    {
        var errors = new List<ValidationResult>();
        Validator.TryValidateObject(this, new ValidationContext(this), errors, validateAllProperties: true);
        foreach (var e in errors) yield return e.ErrorMessage ?? "invalid";
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (AET.Trim().Length is 0 or > 16 || AET.Any(c => c is < ' ' or > '~' or '\\'))
            yield return new ValidationResult($"AET '{AET}' must be 1 to 16 printable ASCII characters (PS3.5 §6.2, AE)", [nameof(AET)]);
        if (LocalAet is { Length: > 0 } local && (local.Trim().Length is 0 or > 16 || local.Any(c => c is < ' ' or > '~' or '\\')))
            yield return new ValidationResult($"LocalAet '{local}' must be 1 to 16 printable ASCII characters (PS3.5 §6.2, AE)", [nameof(LocalAet)]);
        if (!RetrieveMethods.IsSetting(RetrieveMethod))
            yield return new ValidationResult($"RetrieveMethod must be {RetrieveMethods.Move}, {RetrieveMethods.Get} or {RetrieveMethods.SystemDefault}, not '{RetrieveMethod}'",
                [nameof(RetrieveMethod)]);
        if (PreferredTransferSyntax is { Length: > 0 } ts && !OrthancWeb.Dicom.Data.DicomUids.All.Any(u => u.IsTransferSyntax && u.Uid == ts))
            yield return new ValidationResult($"PreferredTransferSyntax '{ts}' is not a transfer syntax UID", [nameof(PreferredTransferSyntax)]);
    }

    // --- end of Query/Retrieve settings ---

    public static JsonObject? Expand(JsonNode shorthand) => shorthand is JsonArray { Count: >= 3 } a
        ? new JsonObject { [nameof(AET)] = a[0]?.DeepClone(), [nameof(Host)] = a[1]?.DeepClone(), [nameof(Port)] = a[2]?.DeepClone() }
        : null;
}

/// <summary>The retrieve methods of Orthanc's RetrieveMethod and DicomDefaultRetrieveMethod.</summary>
public static class RetrieveMethods
{
    public const string Move = "C-MOVE";
    public const string Get = "C-GET";
    public const string SystemDefault = "SystemDefault";

    public static bool IsMethod(string? value) => string.Equals(value, Move, StringComparison.OrdinalIgnoreCase) || string.Equals(value, Get, StringComparison.OrdinalIgnoreCase);
    public static bool IsSetting(string? value) => IsMethod(value) || string.Equals(value, SystemDefault, StringComparison.OrdinalIgnoreCase);

    /// <summary>C-GET or C-MOVE for a modality: its own setting, else the server's default.</summary>
    public static bool UsesGet(ModalityOptions m, DicomOptions o) =>
        string.Equals(IsMethod(m.RetrieveMethod) ? m.RetrieveMethod : o.DicomDefaultRetrieveMethod, Get, StringComparison.OrdinalIgnoreCase);
}
