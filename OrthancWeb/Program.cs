using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using OrthancWeb.Components;
using OrthancWeb.Hosting;
using OrthancWeb.Security;

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
    // Cookies do not separate ports: a per-instance name keeps side-by-side servers from logging each other out.
    o.Cookie.Name = $".OrthancWeb.{server.HttpsPort}";
    o.LoginPath = "/account/login";
    o.AccessDeniedPath = "/account/denied";
    o.SlidingExpiration = true;
});
builder.Services.AddAuthorization(o => o.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
builder.Services.AddCascadingAuthenticationState();
builder.Services.AddScoped<AdministratorSeeder>();

builder.Services.AddRazorComponents().AddInteractiveServerComponents();
builder.Services.AddMudServices();

var app = builder.Build();

app.Logger.LogInformation("Configuration file: {File}; data directory: {Data}", configFile ?? "(none, built-in defaults)", paths.Root);
using (var scope = app.Services.CreateScope())
    await scope.ServiceProvider.GetRequiredService<AdministratorSeeder>().SeedAsync();

if (!app.Environment.IsDevelopment())
    app.UseExceptionHandler("/error", createScopeForErrors: true);
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();

app.MapStaticAssets().AllowAnonymous();
app.MapAccountEndpoints();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

app.Run();

/// <summary>Entry point, public so that the tests can host the app.</summary>
public partial class Program;
