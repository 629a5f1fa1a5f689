using OrthancWeb.Annotations;
using OrthancWeb.Api;
using OrthancWeb.Audit;
using OrthancWeb.Backup;
using OrthancWeb.Components;
using OrthancWeb.DicomWeb;
using OrthancWeb.Explorer;
using OrthancWeb.Export;
using OrthancWeb.Hosting;
using OrthancWeb.Imaging;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Monitoring;
using OrthancWeb.Networking;
using OrthancWeb.OrthancPeers;
using OrthancWeb.Reading;
using OrthancWeb.Routing;
using OrthancWeb.Scripting;
using OrthancWeb.Security;
using OrthancWeb.Storage;
using OrthancWeb.Worklists;

StartupTrace.Mark("main");
var configFile = ConfigurationLocator.Find(args, Environment.CurrentDirectory, AppContext.BaseDirectory,
    Environment.GetEnvironmentVariable("ORTHANCWEB_CONFIG"));
if (BackupCommand.Matches(args)) return await BackupCommand.RunAsync(args, configFile);
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = ConfigurationLocator.StripConfigArgument(args),
    ContentRootPath = AppContext.BaseDirectory,
});
StartupTrace.Mark("builder created");
builder.WebHost.UseStaticWebAssets();
var paths = builder.AddServerConfiguration(configFile, args);
builder.AddWebListeners(paths);
var configuration = builder.Configuration;

// What the server is made of, one capability per line (each registers its options, services and jobs).
builder.Services
    .AddAudit()
    .AddSecurity(configuration, paths)
    .AddStorage(configuration)
    .AddIndex(configuration, paths)
    .AddAnnotations(configuration)
    .AddIngest()
    .AddImaging()
    .AddJobs(configuration)
    .AddDicomNetworking(configuration)
    .AddModification()
    .AddExport(configuration)
    .AddAutoRouting(configuration)
    .AddWorklists(configuration)
    .AddLuaScripting(configuration)
    .AddExplorer()
    .AddReading()
    .AddDicomWeb(configuration)
    .AddOrthancPeers(configuration)
    .AddMonitoring(configuration)
    .AddBackup()
    .AddRestApi()
    .AddExplorerUi();

StartupTrace.Mark("services added");
var app = builder.Build();
StartupTrace.Mark("app built");

LogConfiguration(app.Logger, configFile ?? "(none, built-in defaults)", paths.Root);
// The accounts and the index are separate databases: brought up side by side, one on each core (issue 21).
await Task.WhenAll(SeedAdministratorAsync(app.Services), app.Services.GetRequiredService<IndexStartup>().RunAsync());
StartupTrace.Mark("accounts and index ready");

app.UseStartupTrace();
app.UseOrthancRequestShape();
app.UseSecurityHeaders();
app.UseHttpsForBrowsers();
app.UseRestApiErrors();
app.UseAuthentication();
app.UseCaller();
app.UseLuaScripting();
app.UseSameOriginWrites();
app.UsePasswordChangeRequirement();
app.UseAuthorization();
app.UseAntiforgery();

app.MapStaticAssets().AllowAnonymous();
app.MapAccountEndpoints();
app.MapRestApi();
app.MapMonitoring();
app.MapDicomWeb();
app.MapExplorerUi();

StartupTrace.Mark("pipeline built");
app.Run();
return 0;

/// <summary>Entry point, public so that the tests can host the app.</summary>
public partial class Program
{
    [LoggerMessage(LogLevel.Information, "Configuration file: {File}; data directory: {Data}")]
    private static partial void LogConfiguration(ILogger logger, string file, string data);

    private static async Task SeedAdministratorAsync(IServiceProvider services)
    {
        await Task.Yield(); // off the caller's thread, so that the index's start-up runs meanwhile
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<AdministratorSeeder>().SeedAsync();
    }
}
