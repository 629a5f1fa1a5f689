using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;
using OrthancWeb.Hosting;

namespace OrthancWeb.OrthancPeers;

/// <summary>A client certificate some peer is reached with (its PEM files, resolved against the configuration's folder).</summary>
internal sealed record PeerClientCertificate(string CertificateFile, string KeyFile, string KeyPassword);

/// <summary>
/// The HttpClients that reach peers, from IHttpClientFactory (pooled handlers, rotated): one named client for every
/// peer without a client certificate, and one per distinct client certificate, since a handler holds its certificate.
/// </summary>
public sealed class PeerHttpClients(IHttpClientFactory factory, PeerCertificates certificates)
{
    public const string Name = "OrthancPeers";

    public HttpClient For(OrthancPeerOptions peer)
    {
        if (peer.CertificateFile.Length == 0) return factory.CreateClient(Name);
        var spec = new PeerClientCertificate(peer.CertificateFile, peer.CertificateKeyFile, peer.CertificateKeyPassword);
        // The name says which certificate without holding its password.
        var key = Name + ":" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{spec.CertificateFile}\n{spec.KeyFile}\n{spec.KeyPassword}")))[..16];
        certificates.Register(key, spec);
        return factory.CreateClient(key);
    }
}

/// <summary>The client certificates of the named clients (apart from the factory, which their configuration reads).</summary>
public sealed class PeerCertificates
{
    private readonly ConcurrentDictionary<string, PeerClientCertificate> _byClient = new(StringComparer.Ordinal);

    internal void Register(string client, PeerClientCertificate spec) => _byClient.TryAdd(client, spec);

    internal PeerClientCertificate? Of(string client) => _byClient.GetValueOrDefault(client);
}

/// <summary>
/// The handler of every peer client: no redirects (they would carry the peer's credentials elsewhere), no response
/// decompression, the server's certificate checked as Orthanc does (HttpsVerifyPeers, HttpsCACertificates), and the
/// client certificate when the peer has one. Timeouts are per request, by <see cref="OrthancPeerClient"/>.
/// </summary>
internal sealed class PeerHttpClientSetup(PeerCertificates certificates, IOptionsMonitor<PeersOptions> options, DataPaths paths)
    : IConfigureNamedOptions<HttpClientFactoryOptions>
{
    public void Configure(string? name, HttpClientFactoryOptions o)
    {
        if (name is null || !(name == PeerHttpClients.Name || name.StartsWith(PeerHttpClients.Name + ":", StringComparison.Ordinal))) return;
        o.HttpClientActions.Add(c => c.Timeout = Timeout.InfiniteTimeSpan);
        o.HttpMessageHandlerBuilderActions.Add(b => b.PrimaryHandler = CreateHandler(certificates.Of(name)));
    }

    public void Configure(HttpClientFactoryOptions options) => Configure(Options.DefaultName, options);

    private SocketsHttpHandler CreateHandler(PeerClientCertificate? client)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            MaxResponseHeadersLength = 64, // KB
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = Verify },
        };
        if (client is not null)
        {
            var file = Path.GetFullPath(client.CertificateFile, paths.ConfigurationFolder);
            var key = Path.GetFullPath(client.KeyFile, paths.ConfigurationFolder);
            using var pem = client.KeyPassword.Length > 0 ? X509Certificate2.CreateFromEncryptedPemFile(file, client.KeyPassword, key) : X509Certificate2.CreateFromPemFile(file, key);
            // An ephemeral PEM key cannot be used by SslStream everywhere: through PKCS#12 it can.
            handler.SslOptions.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }
        return handler;
    }

    /// <summary>
    /// HttpsVerifyPeers false accepts any certificate (Orthanc's switch). Otherwise the name must match, and the chain
    /// must lead to the system's trust store, or, with HttpsCACertificates, to one of its certificates instead (as
    /// curl's CA bundle does for Orthanc): a peer's own self-signed certificate there trusts that peer.
    /// </summary>
    private bool Verify(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        var o = options.CurrentValue;
        if (!o.HttpsVerifyPeers) return true;
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) return false;
        if (o.HttpsCACertificates.Length == 0) return errors == SslPolicyErrors.None;
        var bundle = new X509Certificate2Collection();
        bundle.ImportFromPemFile(Path.GetFullPath(o.HttpsCACertificates, paths.ConfigurationFolder));
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(bundle);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
            foreach (var element in chain.ChainElements) custom.ChainPolicy.ExtraStore.Add(element.Certificate);
        using var leaf = new X509Certificate2(certificate);
        var trusted = custom.Build(leaf);
        foreach (var c in bundle) c.Dispose();
        return trusted;
    }
}
