using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OrthancWeb.Hosting;

namespace OrthancWeb.Security;

public static partial class WebListeners
{
    /// <summary>
    /// HTTPS (the browser UI and REST; HTTP/1.1 unless HttpsHttp2) on every interface, or on loopback only if RemoteAccessAllowed is false; plain
    /// HTTP for scripts on loopback only, unless HttpRemoteAccessAllowed opens it to other hosts too (logged as a
    /// warning: Basic credentials and patient data would then cross the network in cleartext).
    /// </summary>
    public static WebApplicationBuilder AddWebListeners(this WebApplicationBuilder builder, DataPaths paths)
    {
        var server = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            using var loggerFactory = LoggerFactory.Create(l => l.AddConsole());
            var logger = loggerFactory.CreateLogger("OrthancWeb.Security");
            var certificate = string.IsNullOrEmpty(server.CertificatePath)
                ? SelfSignedCertificate.LoadOrCreate(paths.Certificates, Environment.MachineName.ToLowerInvariant(), logger)
                : X509CertificateLoader.LoadPkcs12FromFile(Path.GetFullPath(server.CertificatePath, paths.ConfigurationFolder), server.CertificatePassword);
            void Listen(int port, bool remote, Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions> configure)
            {
                if (remote) kestrel.ListenAnyIP(port, configure);
                else kestrel.ListenLocalhost(port, configure);
            }
            Listen(server.HttpsPort, server.RemoteAccessAllowed, l =>
            {
                l.Protocols = server.HttpsHttp2 ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;
                l.UseHttps(certificate);
            });
            if (server.HttpPort > 0)
            {
                var remoteHttp = server.RemoteAccessAllowed && server.HttpRemoteAccessAllowed;
                if (remoteHttp) LogHttpOpen(logger, server.HttpPort);
                Listen(server.HttpPort, remoteHttp, _ => { });
            }
        });
        return builder;
    }

    [LoggerMessage(LogLevel.Warning, "Plain HTTP port {Port} is open to other hosts (HttpRemoteAccessAllowed): HTTP Basic passwords and patient data cross the network in cleartext there; scripts on other hosts should use the HTTPS port")]
    private static partial void LogHttpOpen(ILogger logger, int port);
}
