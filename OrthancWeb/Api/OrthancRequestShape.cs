namespace OrthancWeb.Api;

/// <summary>
/// What Orthanc's HTTP server tolerates and scripts written for it rely on, applied before routing: empty path parts
/// are ignored (a script that joins "http://host:8042/" and "/patients" asks for "//patients"), and a POST may stand
/// for a PUT or a DELETE through X-HTTP-Method-Override, for clients that can only send GET and POST.
/// </summary>
public static class OrthancRequestShape
{
    public const string MethodOverrideHeader = "X-HTTP-Method-Override";

    public static WebApplication UseOrthancRequestShape(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            var request = context.Request;
            if (request.Path.Value is { } path && path.Contains("//", StringComparison.Ordinal))
                request.Path = new PathString(CollapseEmptySegments(path));
            // Only over POST, and only to PUT or DELETE, as Orthanc: a header a cross-site form cannot set, so a
            // browser's same-origin checks still see a write.
            if (HttpMethods.IsPost(request.Method) && request.Headers[MethodOverrideHeader].ToString().Trim() is { Length: > 0 } wanted)
            {
                if (string.Equals(wanted, HttpMethods.Put, StringComparison.OrdinalIgnoreCase)) request.Method = HttpMethods.Put;
                else if (string.Equals(wanted, HttpMethods.Delete, StringComparison.OrdinalIgnoreCase)) request.Method = HttpMethods.Delete;
            }
            return next(context);
        });
        // Routing runs after the rewrite, so that the endpoint matched is the one of the rewritten request.
        app.UseRouting();
        return app;
    }

    /// <summary>"//patients//x/" becomes "/patients/x/": runs of slashes count as one.</summary>
    public static string CollapseEmptySegments(string path)
    {
        var chars = new char[path.Length];
        var n = 0;
        foreach (var c in path)
            if (c != '/' || n == 0 || chars[n - 1] != '/') chars[n++] = c;
        return new string(chars, 0, n);
    }
}
