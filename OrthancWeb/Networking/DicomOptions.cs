using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using OrthancWeb.Requests;

namespace OrthancWeb.Networking;

/// <summary>DICOM network settings, under "OrthancWeb" with Orthanc's names.</summary>
public sealed class DicomOptions
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
}

/// <summary>One remote DICOM node (Orthanc's DicomModalities entry in its object form; ["AET", "host", port] also reads).</summary>
public sealed class ModalityOptions : IShorthandBody<ModalityOptions>
{
    [Required] public string AET { get; set; } = "";
    [Required] public string Host { get; set; } = "127.0.0.1";
    [Range(1, 65535)] public int Port { get; set; } = 104;
    public string Manufacturer { get; set; } = "Generic";
    public bool AllowEcho { get; set; } = true;
    public bool AllowFind { get; set; } = true;
    public bool AllowMove { get; set; } = true;
    public bool AllowGet { get; set; } = true;
    public bool AllowStore { get; set; } = true;

    public static JsonObject? Expand(JsonNode shorthand) => shorthand is JsonArray { Count: >= 3 } a
        ? new JsonObject { [nameof(AET)] = a[0]?.DeepClone(), [nameof(Host)] = a[1]?.DeepClone(), [nameof(Port)] = a[2]?.DeepClone() }
        : null;
}
