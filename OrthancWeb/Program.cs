using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using MudBlazor.Services;
using OrthancWeb.Components;
using OrthancWeb.Hosting;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Security;
using OrthancWeb.Storage;

var configFile = ConfigurationLocator.Find(args, Environment.CurrentDirectory, AppContext.BaseDirectory,
    Environment.GetEnvironmentVariable("ORTHANCWEB_CONFIG"));
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = ConfigurationLocator.StripConfigArgument(args),
    ContentRootPath = AppContext.BaseDirectory,
});

// One file an admin edits, then the environment, then the command line: ASP.NET's usual precedence.
builder.Configuration.Sources.Clear();
if (configFile is not null)
    builder.Configuration.AddJsonFile(configFile, optional: false, reloadOnChange: false);
builder.Configuration.AddEnvironmentVariables();
builder.Configuration.AddCommandLine(ConfigurationLocator.StripConfigArgument(args));
builder.WebHost.UseStaticWebAssets();
builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);

builder.Services.AddOptions<ServerOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<StorageOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<SecurityOptions>().Bind(builder.Configuration.GetSection(SecurityOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();

var server = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
var configFolder = configFile is null ? Environment.CurrentDirectory : Path.GetDirectoryName(configFile)!;
var paths = new DataPaths(Path.GetFullPath(server.DataDirectory, configFolder));
paths.CreateAll();
builder.Services.AddSingleton(paths);

builder.WebHost.ConfigureKestrel(kestrel =>
{
    using var loggerFactory = LoggerFactory.Create(l => l.AddConsole());
    var certificate = string.IsNullOrEmpty(server.CertificatePath)
        ? SelfSignedCertificate.LoadOrCreate(paths.Certificates, Environment.MachineName.ToLowerInvariant(), loggerFactory.CreateLogger("OrthancWeb.Security"))
        : System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(
            Path.GetFullPath(server.CertificatePath, configFolder), server.CertificatePassword);
    void Listen(int port, Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions> configure)
    {
        if (server.RemoteAccessAllowed) kestrel.ListenAnyIP(port, configure);
        else kestrel.ListenLocalhost(port, configure);
    }
    Listen(server.HttpsPort, l => l.UseHttps(certificate));
    if (server.HttpPort > 0)
        Listen(server.HttpPort, _ => { });
});

// Keys under the data folder: cookies survive a restart, and two servers on one machine never share keys.
builder.Services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(paths.Keys)).SetApplicationName("OrthancWeb-" + paths.Root);

builder.Services.AddDbContext<SecurityDbContext>(o => o.UseSqlite($"Data Source={paths.SecurityDatabaseFile}"));
builder.Services.AddIdentity<IdentityUser, IdentityRole>(o =>
    {
        o.Lockout.MaxFailedAccessAttempts = 5;
        o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(15);
        o.Password.RequiredLength = 8;
        o.User.RequireUniqueEmail = false;
    })
    .AddEntityFrameworkStores<SecurityDbContext>()
    .AddDefaultTokenProviders();
builder.Services.ConfigureApplicationCookie(o =>
{
    // Scripts get 401/403 with a Basic challenge; browsers navigating to a page get the login page.
    static bool IsBrowser(HttpRequest r) => r.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase);
    o.Events.OnRedirectToLogin = ctx =>
    {
        if (IsBrowser(ctx.Request)) ctx.Response.Redirect(ctx.RedirectUri);
        else { ctx.Response.StatusCode = 401; ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"OrthancWeb\", charset=\"UTF-8\""; }
        return Task.CompletedTask;
    };
    o.Events.OnRedirectToAccessDenied = ctx =>
    {
        if (IsBrowser(ctx.Request)) ctx.Response.Redirect(ctx.RedirectUri);
        else ctx.Response.StatusCode = 403;
        return Task.CompletedTask;
    };
    // Cookies do not separate ports: a per-instance name keeps side-by-side servers from logging each other out.
    o.Cookie.Name = $".OrthancWeb.{server.HttpsPort}";
    o.LoginPath = "/account/login";
    o.AccessDeniedPath = "/account/denied";
    o.SlidingExpiration = true;
});
// A request with "Authorization: Basic" is a script; anything else is the browser's cookie.
const string SmartScheme = "CookieOrBasic";
builder.Services.AddAuthentication(o =>
    {
        o.DefaultAuthenticateScheme = SmartScheme;
        o.DefaultChallengeScheme = SmartScheme;
        o.DefaultForbidScheme = SmartScheme;
    })
    .AddPolicyScheme(SmartScheme, "Cookie or HTTP Basic", p => p.ForwardDefaultSelector = ctx =>
        ctx.Request.Headers.Authorization.ToString().StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)
            ? BasicAuthenticationHandler.SchemeName : IdentityConstants.ApplicationScheme)
    .AddScheme<AuthenticationSchemeOptions, BasicAuthenticationHandler>(BasicAuthenticationHandler.SchemeName, null);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<BasicCredentialCache>();
builder.Services.AddAuthorization(o =>
{
    o.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
    o.AddPolicy(Policies.View, p => p.RequireRole(Roles.Administrator, Roles.Clinician, Roles.Viewer));
    o.AddPolicy(Policies.Modify, p => p.RequireRole(Roles.Administrator, Roles.Clinician));
    o.AddPolicy(Policies.Administer, p => p.RequireRole(Roles.Administrator));
});

// The DICOM index, the storage area and the one ingest path.
var store = builder.Configuration.GetSection(ServerOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
builder.Services.AddPooledDbContextFactory<IndexDbContext>(o =>
{
    if (store.IndexProvider != "Sqlite")
        throw new InvalidOperationException($"Index provider '{store.IndexProvider}' is not available in this build; use Sqlite");
    o.UseSqlite($"Data Source={paths.IndexDatabaseFile};Default Timeout=60;Foreign Keys=True");
    if (StorageArea.CanSyncFileSystem) o.AddInterceptors(new SqliteSynchronousInterceptor());
});
builder.Services.AddSingleton<StorageArea>();
builder.Services.AddSingleton<IndexWriter>();
builder.Services.AddSingleton<IndexQueries>();
builder.Services.AddSingleton<IndexStartup>();
builder.Services.AddSingleton<IngestService>();
builder.Services.AddSingleton<UploadService>();
builder.Services.AddSingleton<InstanceFiles>();
builder.Services.AddSingleton<OrthancWeb.Imaging.RenderingService>();
builder.Services.AddSingleton<OrthancWeb.Explorer.ExplorerService>();
builder.Services.AddHostedService<StabilityMonitor>();

// DICOM networking: the listener (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET) and the SCU services.
builder.Services.AddOptions<OrthancWeb.Dicom.DicomOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddSingleton<OrthancWeb.Dicom.ModalityRegistry>();
builder.Services.AddSingleton<OrthancWeb.Dicom.DicomPolicy>();
builder.Services.AddSingleton<OrthancWeb.Dicom.EchoScp>();
builder.Services.AddSingleton<OrthancWeb.Dicom.StoreScp>();
builder.Services.AddSingleton<OrthancWeb.Dicom.FindScp>();
builder.Services.AddSingleton<OrthancWeb.Dicom.RetrieveScp>();
builder.Services.AddSingleton<OrthancWeb.Dicom.ModalityClient>();
builder.Services.AddSingleton<OrthancWeb.Dicom.DicomHost>();
builder.Services.AddSingleton<OrthancWeb.Modification.ModificationService>();
builder.Services.AddOptions<OrthancWeb.Jobs.JobsOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section))
    .Validate(o => o.ConcurrentJobs is >= 1 and <= 64 && o.JobsHistorySize >= 0, "Jobs: ConcurrentJobs must be 1-64 and JobsHistorySize not negative").ValidateOnStart();
builder.Services.AddSingleton<OrthancWeb.Jobs.IJobHandler, OrthancWeb.Modification.ResourceModificationJob>();
builder.Services.AddSingleton<OrthancWeb.Jobs.IJobHandler, OrthancWeb.Dicom.ModalityStoreJob>();
builder.Services.AddSingleton<OrthancWeb.Jobs.IJobHandler, OrthancWeb.Dicom.ModalityMoveJob>();
builder.Services.AddOptions<OrthancWeb.Export.ExportOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section));
builder.Services.AddSingleton<OrthancWeb.Export.ArchiveService>();
builder.Services.AddSingleton<OrthancWeb.Export.ArchiveJob>();
builder.Services.AddSingleton<OrthancWeb.Jobs.IJobHandler>(sp => sp.GetRequiredService<OrthancWeb.Export.ArchiveJob>());
builder.Services.AddOptions<OrthancWeb.Routing.RoutingOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section))
    .Validate(o => o.Routing.All(r => r.Problem() is null), "Routing: every rule needs a name, a known tag in each condition, and something to do")
    .Validate(o => o.Routing.Select(r => r.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count() == o.Routing.Count, "Routing: rule names must be unique")
    .ValidateOnStart();
builder.Services.AddSingleton<OrthancWeb.Routing.RoutingRegistry>();
builder.Services.AddSingleton<OrthancWeb.Modification.PseudonymKeys>();
builder.Services.AddSingleton<OrthancWeb.Jobs.IJobHandler, OrthancWeb.Routing.RouteJob>();
builder.Services.AddSingleton<OrthancWeb.Jobs.JobEngine>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<OrthancWeb.Jobs.JobEngine>());
builder.Services.AddHostedService<OrthancWeb.Routing.RoutingService>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<OrthancWeb.Dicom.DicomHost>());

builder.Services.AddControllers(o =>
    {
        // Uploads are raw DICOM whatever Content-Type a script sends (curl says form-urlencoded): never parse a form.
        o.ValueProviderFactories.RemoveType<FormValueProviderFactory>();
        o.ValueProviderFactories.RemoveType<JQueryFormValueProviderFactory>();
        o.ValueProviderFactories.RemoveType<FormFileValueProviderFactory>();
    })
    .AddJsonOptions(o => o.JsonSerializerOptions.PropertyNamingPolicy = null);
builder.Services.AddOpenApi();
builder.Services.AddCascadingAuthenticationState();
builder.Services.AddScoped<AdministratorSeeder>();

builder.Services.AddRazorComponents().AddInteractiveServerComponents();
builder.Services.AddMudServices();

var app = builder.Build();

app.Logger.LogInformation("Configuration file: {File}; data directory: {Data}", configFile ?? "(none, built-in defaults)", paths.Root);
using (var scope = app.Services.CreateScope())
    await scope.ServiceProvider.GetRequiredService<AdministratorSeeder>().SeedAsync();
await app.Services.GetRequiredService<IndexStartup>().RunAsync();

// Unexpected failures: JSON in Orthanc's error shape for scripts, the error page for browsers.
app.UseExceptionHandler(new ExceptionHandlerOptions
{
    CreateScopeForErrors = true,
    ExceptionHandlingPath = "/error",
    StatusCodeSelector = _ => 500,
    ExceptionHandler = async ctx =>
    {
        if (ctx.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase))
        {
            ctx.Response.Redirect("/error");
            return;
        }
        ctx.Response.StatusCode = 500;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsJsonAsync(new Dictionary<string, object?>
        {
            ["HttpError"] = "Internal Server Error", ["HttpStatus"] = 500, ["Message"] = "Internal error; see the server log",
            ["Method"] = ctx.Request.Method, ["Uri"] = ctx.Request.Path.Value,
        });
    },
});
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();

app.MapStaticAssets().AllowAnonymous();
app.MapAccountEndpoints();
app.MapControllers();
// The API described for tools, and a page to try it from the browser.
app.MapOpenApi("/openapi/{documentName}.json").RequireAuthorization(Policies.View);
app.UseSwaggerUI(o =>
{
    o.SwaggerEndpoint("/openapi/v1.json", "OrthancWeb REST API");
    o.RoutePrefix = "api-docs";
});
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

app.Run();

/// <summary>Entry point, public so that the tests can host the app.</summary>
public partial class Program;
