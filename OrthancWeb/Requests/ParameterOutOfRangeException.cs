namespace OrthancWeb.Requests;

/// <summary>
/// A request field whose value is well formed but not one the operation takes (a level that does not exist, a tag a
/// split may not change): Orthanc's "Parameter out of range", HTTP 400.
/// </summary>
public sealed class ParameterOutOfRangeException(string message) : ArgumentException(message);
