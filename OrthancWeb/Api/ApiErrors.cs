using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Filters;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.Network;
using OrthancWeb.Networking;
using OrthancWeb.Requests;
using OrthancWeb.Index;
using OrthancWeb.Security;
using OrthancWeb.Storage;

namespace OrthancWeb.Api;

/// <summary>Orthanc's error codes (its "OrthancStatus" field) that this server answers with.</summary>
public enum OrthancErrorCode
{
    InternalError = -1,
    NotImplemented = 2,
    ParameterOutOfRange = 3,
    BadSequenceOfCalls = 6,
    InexistentItem = 7,
    BadRequest = 8,
    NetworkProtocol = 9,
    CannotWriteFile = 14,
    BadFileFormat = 15,
    UnknownResource = 17,
    FullStorage = 19,
    CorruptedFile = 20,
    IncompatibleImageFormat = 23,
    UnknownDicomTag = 27,
    Unauthorized = 29,
    CannotExecuteLua = 2031,
    DatabaseUnavailable = 36,
    Revision = 43,
}

/// <summary>One failure as a REST client sees it: HTTP status, Orthanc's error code, and the reason in words.</summary>
public sealed record ApiError(int HttpStatus, OrthancErrorCode Code, string Details)
{
    /// <summary>Orthanc's text for each code (its "OrthancError" field, and the "Message" of Orthanc 1.10).</summary>
    public string OrthancError => Code switch
    {
        OrthancErrorCode.NotImplemented => "Not implemented yet",
        OrthancErrorCode.ParameterOutOfRange => "Parameter out of range",
        OrthancErrorCode.BadSequenceOfCalls => "Bad sequence of calls",
        OrthancErrorCode.InexistentItem => "Accessing an inexistent item",
        OrthancErrorCode.BadRequest => "Bad request",
        OrthancErrorCode.NetworkProtocol => "Error in the network protocol",
        OrthancErrorCode.CannotWriteFile => "Cannot write to file",
        OrthancErrorCode.BadFileFormat => "Bad file format",
        OrthancErrorCode.UnknownResource => "Unknown resource",
        OrthancErrorCode.FullStorage => "The file storage is full",
        OrthancErrorCode.CorruptedFile => "Corrupted file (e.g. inconsistent MD5 hash)",
        OrthancErrorCode.IncompatibleImageFormat => "Incompatible format of the images",
        OrthancErrorCode.UnknownDicomTag => "Unknown DICOM tag",
        OrthancErrorCode.Unauthorized => "Bad credentials were provided to an HTTP request",
        OrthancErrorCode.CannotExecuteLua => "Cannot execute a Lua command",
        OrthancErrorCode.DatabaseUnavailable => "The database is currently not available (probably a transient situation)",
        OrthancErrorCode.Revision => "A bad revision number was provided, which might indicate conflict between multiple writers",
        _ => "Internal error",
    };

    /// <summary>The code Orthanc uses with an HTTP status, for answers that name no code of their own.</summary>
    public static OrthancErrorCode CodeFor(int httpStatus) => httpStatus switch
    {
        400 => OrthancErrorCode.BadRequest,
        401 => OrthancErrorCode.Unauthorized,
        404 => OrthancErrorCode.UnknownResource,
        409 => OrthancErrorCode.BadSequenceOfCalls,
        415 => OrthancErrorCode.IncompatibleImageFormat,
        501 => OrthancErrorCode.NotImplemented,
        503 => OrthancErrorCode.DatabaseUnavailable,
        507 => OrthancErrorCode.FullStorage,
        _ => OrthancErrorCode.InternalError,
    };

    /// <summary>
    /// The one mapping from a failure to its answer, or null for a failure nobody expected (a bug: HTTP 500, logged).
    /// The statuses follow Orthanc 1.10: every failure to talk to a modality, whatever its kind (no connection,
    /// rejected, aborted, silent, failure status), is a 500 "Error in the network protocol" with the reason in Details.
    /// </summary>
    public static ApiError? From(Exception ex) => ex switch
    {
        JsonException json => new(400, OrthancErrorCode.BadFileFormat, RequestBodyError.Describe(json)),
        DicomValidationException => new(400, OrthancErrorCode.BadRequest, ex.Message),
        Annotations.InvalidLabelException => new(400, OrthancErrorCode.ParameterOutOfRange, ex.Message),
        ParameterOutOfRangeException => new(400, OrthancErrorCode.ParameterOutOfRange, ex.Message),
        // Orthanc 1.10 has no code of its own for a forbidden action: its authentication code, with the reason.
        AccessDeniedException => new(403, OrthancErrorCode.Unauthorized, ex.Message),
        UnknownModalityException => new(404, OrthancErrorCode.InexistentItem, ex.Message),
        KeyNotFoundException => new(404, OrthancErrorCode.UnknownResource, ex.Message),
        DicomNetworkException => new(500, OrthancErrorCode.NetworkProtocol, ex.Message),
        StoredFileDamagedException => new(500, OrthancErrorCode.CorruptedFile, ex.Message),
        Scripting.LuaScriptException => new(500, OrthancErrorCode.CannotExecuteLua, ex.Message),
        Export.FileExportException => new(500, OrthancErrorCode.CannotWriteFile, ex.Message),
        Backup.BackupNotSupportedException => new(501, OrthancErrorCode.NotImplemented, ex.Message),
        Backup.BackupException => new(400, OrthancErrorCode.BadRequest, ex.Message),
        // A disk that filled up under any write of ours (RFC 4918 §11.5: 507 Insufficient Storage, Orthanc's FullStorage).
        IOException io when StorageArea.IsOutOfSpace(io) => new(507, OrthancErrorCode.FullStorage, "The disk holding the storage area is full"),
        DicomReadException read => new(400, OrthancErrorCode.BadFileFormat, "Invalid DICOM data: " + read.Reason),
        ImagingException { Failure: ImagingFailure.NoSuchFrame } => new(404, OrthancErrorCode.ParameterOutOfRange, ex.Message),
        ImagingException { Failure: ImagingFailure.NoCodec } => new(415, OrthancErrorCode.NotImplemented, ex.Message),
        ImagingException => new(400, OrthancErrorCode.IncompatibleImageFormat, ex.Message),
        // PostgreSQL restarting or out of reach: 503, as Orthanc's DatabaseUnavailable; the client may try again.
        _ when IndexDatabase.IsUnavailable(ex) => new(503, OrthancErrorCode.DatabaseUnavailable, IndexDatabase.UnavailableReason(ex)),
        _ => null,
    };

    public static ApiError Unexpected => new(500, OrthancErrorCode.InternalError, "Internal error; see the server log");
}

/// <summary>
/// Answers the failures <see cref="ApiError.From"/> knows in Orthanc's error JSON, so that controllers need not catch
/// and classify them; anything else goes on to the exception handler (logged, HTTP 500).
/// </summary>
public sealed partial class ApiErrorFilter(ILogger<ApiErrorFilter> logger) : IExceptionFilter
{
    public void OnException(ExceptionContext context)
    {
        if (ApiError.From(context.Exception) is not { } error) return;
        LogAnswered(logger, context.HttpContext.Request.Method, context.HttpContext.Request.Path, error.HttpStatus, error.Details);
        context.Result = ApiJson.Error(context.HttpContext, error);
        context.ExceptionHandled = true;
    }

    [LoggerMessage(LogLevel.Information, "{Method} {Path}: {Status} {Reason}")]
    private static partial void LogAnswered(ILogger logger, string method, PathString path, int status, string reason);
}
