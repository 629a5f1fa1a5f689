using Microsoft.AspNetCore.Mvc.Formatters;
using OrthancWeb.Requests;

namespace OrthancWeb.Api;

/// <summary>
/// Reads [FromBody] parameters with <see cref="RequestBody"/>: any Content-Type or none, Orthanc's shorthand forms, and
/// its lenient values. A body of the wrong shape throws on to <see cref="ApiErrorFilter"/> (a 400 naming the field)
/// instead of becoming ASP.NET's validation problem: MVC turns only InputFormatterExceptions into model state.
/// </summary>
public sealed class RequestBodyFormatter : InputFormatter
{
    public RequestBodyFormatter()
    {
        SupportedMediaTypes.Add("application/json");
        SupportedMediaTypes.Add("text/plain");
    }

    public override bool CanRead(InputFormatterContext context) => CanReadType(context.ModelType);

    /// <summary>Also an empty body: it is the empty object, whose fields all have defaults.</summary>
    public override Task<InputFormatterResult> ReadAsync(InputFormatterContext context) => ReadRequestBodyAsync(context);

    public override async Task<InputFormatterResult> ReadRequestBodyAsync(InputFormatterContext context)
    {
        using var reader = new StreamReader(context.HttpContext.Request.Body);
        var text = await reader.ReadToEndAsync(context.HttpContext.RequestAborted);
        return InputFormatterResult.Success(RequestBody.Read(text, context.ModelType));
    }
}
