using System.Security.Cryptography.X509Certificates;
using OrthancWeb.Security;

namespace OrthancWeb.Hosting;

public static class HostingRegistration
{
    /// <summary>
    /// Reads the one configuration file an admin edits (then the environment, then the command line: ASP.NET's usual
    /// precedence) and resolves the data folder relative to it.
    /// </summary>
    public static DataPaths AddServerConfiguration(this WebApplicationBuilder builder, string? configFile, string[] args)
    {
        builder.Configuration.Sources.Clear();
        if (configFile is not null)
            builder.Configuration.AddJsonFile(configFile, optional: false, reloadOnChange: false);
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(ConfigurationLocator.StripConfigArgument(args));
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);

        builder.Services.AddOptions<ServerOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        var server = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        var configFolder = configFile is null ? Environment.CurrentDirectory : Path.GetDirectoryName(configFile)!;
        var paths = new DataPaths(Path.GetFullPath(server.DataDirectory, configFolder));
        paths.CreateAll();
        builder.Services.AddSingleton(paths);
        builder.Services.AddSingleton(TimeProvider.System);
        ConfigureListeners(builder, server, paths, configFolder);
        return paths;
    }

    /// <summary>HTTPS (the browser UI and REST) and plain HTTP for scripts, on every interface or on loopback only.</summary>
    private static void ConfigureListeners(WebApplicationBuilder builder, ServerOptions server, DataPaths paths, string configFolder)
    {
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            using var loggerFactory = LoggerFactory.Create(l => l.AddConsole());
            var certificate = string.IsNullOrEmpty(server.CertificatePath)
                ? SelfSignedCertificate.LoadOrCreate(paths.Certificates, Environment.MachineName.ToLowerInvariant(), loggerFactory.CreateLogger("OrthancWeb.Security"))
                : X509CertificateLoader.LoadPkcs12FromFile(Path.GetFullPath(server.CertificatePath, configFolder), server.CertificatePassword);
            void Listen(int port, Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions> configure)
            {
                if (server.RemoteAccessAllowed) kestrel.ListenAnyIP(port, configure);
                else kestrel.ListenLocalhost(port, configure);
            }
            Listen(server.HttpsPort, l => l.UseHttps(certificate));
            if (server.HttpPort > 0)
                Listen(server.HttpPort, _ => { });
        });
    }
}
