using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrthancWeb.Security;

/// <summary>
/// HTTPS without a "dev-certs" step: the first start creates a self-signed certificate in the data folder and every
/// later start reuses it, so browsers that were told to trust it keep trusting it.
/// </summary>
public static partial class SelfSignedCertificate
{
    public const string FileName = "server.pfx";

    public static X509Certificate2 LoadOrCreate(string folder, string hostName, ILogger? logger = null)
    {
        var path = Path.Combine(folder, FileName);
        if (File.Exists(path))
            return X509CertificateLoader.LoadPkcs12FromFile(path, password: null, X509KeyStorageFlags.Exportable);

        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={hostName}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        if (!string.Equals(hostName, "localhost", StringComparison.OrdinalIgnoreCase))
            san.AddDnsName(hostName);
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(san.Build());

        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(10));
        var pfx = created.Export(X509ContentType.Pfx);

        // Write then rename, so that a crash never leaves half a certificate that would stop the next start.
        Directory.CreateDirectory(folder);
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, pfx);
        File.Move(temp, path, overwrite: true);
        if (logger is not null) LogCreated(logger, hostName, path, created.GetCertHashString(HashAlgorithmName.SHA256));
        return X509CertificateLoader.LoadPkcs12(pfx, password: null, X509KeyStorageFlags.Exportable);
    }

    [LoggerMessage(LogLevel.Information, "Created a self-signed HTTPS certificate for {Host} in {Path} (SHA-256 {Thumbprint})")]
    private static partial void LogCreated(ILogger logger, string host, string path, string thumbprint);
}
