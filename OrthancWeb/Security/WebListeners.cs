using System.Security.Cryptography.X509Certificates;
using OrthancWeb.Hosting;

namespace OrthancWeb.Security;

public static class WebListeners
{
    /// <summary>HTTPS (the browser UI and REST) and plain HTTP for scripts, on every interface or on loopback only.</summary>
    public static WebApplicationBuilder AddWebListeners(this WebApplicationBuilder builder, DataPaths paths)
    {
        var server = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            using var loggerFactory = LoggerFactory.Create(l => l.AddConsole());
            var certificate = string.IsNullOrEmpty(server.CertificatePath)
                ? SelfSignedCertificate.LoadOrCreate(paths.Certificates, Environment.MachineName.ToLowerInvariant(), loggerFactory.CreateLogger("OrthancWeb.Security"))
                : X509CertificateLoader.LoadPkcs12FromFile(Path.GetFullPath(server.CertificatePath, paths.ConfigurationFolder), server.CertificatePassword);
            void Listen(int port, Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions> configure)
            {
                if (server.RemoteAccessAllowed) kestrel.ListenAnyIP(port, configure);
                else kestrel.ListenLocalhost(port, configure);
            }
            Listen(server.HttpsPort, l => l.UseHttps(certificate));
            if (server.HttpPort > 0)
                Listen(server.HttpPort, _ => { });
        });
        return builder;
    }
}
