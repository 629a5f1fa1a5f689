using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using OrthancWeb.Hosting;

namespace OrthancWeb.Networking;

/// <summary>
/// DICOM TLS (PS3.15 Annex B.1, the BCP 195 profiles of B.9-B.11 ask for TLS 1.2 at least): our certificate and key,
/// the bundle peers' certificates must chain to, and the SslStream options built from them for the listener and for
/// our SCU. Read once, at start-up, so a missing or unreadable file stops the server with its name rather than
/// failing each association.
/// </summary>
public sealed class DicomTls
{
    private readonly DicomOptions _options;
    private readonly Lazy<Material?> _material;

    public DicomTls(IOptionsMonitor<DicomOptions> options, DataPaths paths)
    {
        _options = options.CurrentValue;
        _material = new(() => Load(_options, paths.ConfigurationFolder));
    }

    private sealed record Material(X509Certificate2 Certificate, X509Certificate2Collection Trusted, SslStreamCertificateContext Context);

    public static bool IsPkcs12(string path) =>
        path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase);

    /// <summary>True when a certificate is configured (the listener or some modality uses TLS).</summary>
    public bool IsConfigured => _options.DicomTlsCertificate.Length > 0;

    private static Material? Load(DicomOptions o, string folder)
    {
        if (o.DicomTlsCertificate.Length == 0) return null;
        var certificatePath = Path.GetFullPath(o.DicomTlsCertificate, folder);
        X509Certificate2 certificate;
        try
        {
            certificate = IsPkcs12(certificatePath)
                ? X509CertificateLoader.LoadPkcs12FromFile(certificatePath, o.DicomTlsCertificatePassword.Length == 0 ? null : o.DicomTlsCertificatePassword)
                : X509Certificate2.CreateFromPemFile(certificatePath, Path.GetFullPath(o.DicomTlsPrivateKey, folder));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"DicomTlsCertificate {certificatePath} (with its key) cannot be read: {ex.Message}", ex);
        }
        if (!certificate.HasPrivateKey) throw new InvalidOperationException($"DicomTlsCertificate {certificatePath} has no private key");
        var trusted = new X509Certificate2Collection();
        if (o.DicomTlsTrustedCertificates.Length > 0)
        {
            var trustedPath = Path.GetFullPath(o.DicomTlsTrustedCertificates, folder);
            try { trusted.ImportFromPemFile(trustedPath); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new InvalidOperationException($"DicomTlsTrustedCertificates {trustedPath} cannot be read: {ex.Message}", ex);
            }
            if (trusted.Count == 0) throw new InvalidOperationException($"DicomTlsTrustedCertificates {trustedPath} holds no PEM certificate");
        }
        // The chain of our own certificate, as far as the bundle has it, is sent with it.
        var context = SslStreamCertificateContext.Create(certificate, trusted, offline: true);
        return new Material(certificate, trusted, context);
    }

    /// <summary>Reads the files now: called at start-up when TLS is used.</summary>
    public void EnsureLoaded() => _ = _material.Value;

    /// <summary>The listener's options (DicomTlsEnabled); null when TLS is off.</summary>
    public SslServerAuthenticationOptions? ServerOptions()
    {
        if (!_options.DicomTlsEnabled) return null;
        var m = _material.Value ?? throw new InvalidOperationException("DicomTlsEnabled needs DicomTlsCertificate");
        var required = _options.DicomTlsRemoteCertificateRequired;
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = m.Context,
            ClientCertificateRequired = required,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            // Not required: whatever the client shows is not checked (Orthanc's false, DCMTK's --ignore-peer-cert).
            RemoteCertificateValidationCallback = (_, certificate, _, _) => !required || ChainsToTrusted(certificate, m.Trusted),
        };
    }

    /// <summary>
    /// Our SCU's options for a modality with UseDicomTls: our certificate, and the peer's checked against the bundle.
    /// The host name is not checked against the certificate, as DCMTK and Orthanc do not: modalities are often
    /// configured by address and their certificates name them otherwise; the trusted bundle is what identifies them.
    /// </summary>
    public SslClientAuthenticationOptions? ClientOptions()
    {
        if (_material.Value is not { } m) return null;
        return new SslClientAuthenticationOptions
        {
            ClientCertificateContext = m.Context,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => ChainsToTrusted(certificate, m.Trusted),
        };
    }

    /// <summary>The options for reaching a modality: null for a plain one; a TLS one without our certificate configured fails.</summary>
    public SslClientAuthenticationOptions? For(ModalityOptions m) =>
        !m.UseDicomTls ? null
        : ClientOptions() ?? throw new DicomTlsNotConfiguredException($"Modality {m.AET} uses DICOM TLS, and no DicomTlsCertificate is configured");

    /// <summary>The peer's certificate chains to one of the trusted certificates (a CA, or the peer's own self-signed certificate).</summary>
    private static bool ChainsToTrusted(X509Certificate? presented, X509Certificate2Collection trusted)
    {
        if (presented is null || trusted.Count == 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var certificate = presented as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        return chain.Build(certificate);
    }
}

/// <summary>A modality needs DICOM TLS and we have no certificate to speak it with (HTTP 400: a configuration error).</summary>
public sealed class DicomTlsNotConfiguredException(string message) : Dicom.DicomValidationException(message);
