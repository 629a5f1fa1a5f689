using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.Mvc.ModelBinding.Metadata;
using OrthancWeb.Networking;
using OrthancWeb.Routing;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

public static class RestApiRegistration
{
    /// <summary>The Orthanc-shaped REST controllers and their OpenAPI document.</summary>
    public static IServiceCollection AddRestApi(this IServiceCollection services)
    {
        services.AddControllers(o =>
            {
                o.Filters.Add<ApiErrorFilter>();
                o.InputFormatters.Insert(0, new RequestBodyFormatter());
                // Their registries check these, with their own messages (and a rule's name comes from the URL).
                o.ModelMetadataDetailsProviders.Add(new SuppressChildValidationMetadataProvider(typeof(ModalityOptions)));
                o.ModelMetadataDetailsProviders.Add(new SuppressChildValidationMetadataProvider(typeof(RoutingRule)));
                // Uploads are raw DICOM whatever Content-Type a script sends (curl says form-urlencoded): never parse a form.
                o.ValueProviderFactories.RemoveType<FormValueProviderFactory>();
                o.ValueProviderFactories.RemoveType<JQueryFormValueProviderFactory>();
                o.ValueProviderFactories.RemoveType<FormFileValueProviderFactory>();
            })
            .AddJsonOptions(o => o.JsonSerializerOptions.PropertyNamingPolicy = null)
            // A query or route value that does not bind: Orthanc's error shape too, not ASP.NET's problem details.
            .ConfigureApiBehaviorOptions(o => o.InvalidModelStateResponseFactory = context => ApiJson.Error(context.HttpContext, 400,
                string.Join("; ", context.ModelState.Where(e => e.Value?.Errors.Count > 0)
                    .Select(e => $"{string.Join(", ", e.Value!.Errors.Select(x => x.ErrorMessage))} in field: {e.Key}"))));
        // The OpenAPI document describes bodies with the minimal APIs' JSON options, not MVC's: Orthanc's names as
        // written, levels by name (the account endpoints, the only minimal APIs, answer no JSON).
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = null;
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
        });
        services.AddOpenApi();
        return services;
    }

    /// <summary>Unexpected failures: JSON in Orthanc's error shape for scripts, the error page for browsers.</summary>
    public static WebApplication UseRestApiErrors(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            CreateScopeForErrors = true,
            ExceptionHandlingPath = "/error",
            StatusCodeSelector = ex => (ApiError.From(ex) ?? ApiError.Unexpected).HttpStatus,
            ExceptionHandler = async ctx =>
            {
                if (ctx.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase))
                {
                    ctx.Response.Redirect("/error");
                    return;
                }
                // A failure met outside a controller (a filter, the middleware) still gets its mapped answer.
                var failure = ctx.Features.Get<IExceptionHandlerFeature>()?.Error;
                var error = (failure is null ? null : ApiError.From(failure)) ?? ApiError.Unexpected;
                ctx.Response.StatusCode = error.HttpStatus;
                ctx.Response.ContentType = "application/json";
                await ctx.Response.WriteAsync(ApiJson.ErrorBody(ctx, error).ToJsonString());
            },
        });
        return app;
    }

    /// <summary>The controllers, the API described for tools, and a page to try it from the browser.</summary>
    public static WebApplication MapRestApi(this WebApplication app)
    {
        app.MapControllers();
        app.MapOpenApi("/openapi/{documentName}.json").RequireAuthorization(Policies.View);
        app.UseSwaggerUI(o =>
        {
            o.SwaggerEndpoint("/openapi/v1.json", "OrthancWeb REST API");
            o.RoutePrefix = "api-docs";
        });
        return app;
    }
}
