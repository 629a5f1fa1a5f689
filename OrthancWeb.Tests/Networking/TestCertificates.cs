using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrthancWeb.Tests.Networking;

/// <summary>
/// A certification authority and the certificates it signs, made with .NET's CertificateRequest and written as PEM
/// files (certificate, and its unencrypted PKCS#8 key) that both our server and DCMTK read.
/// </summary>
public sealed class TestCertificates
{
    private readonly X509Certificate2 _ca;
    private readonly RSA _caKey;

    public string Folder { get; }
    public string CaCertificate { get; }

    private TestCertificates(string folder, string name)
    {
        Folder = folder;
        _caKey = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name} test CA", _caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        CaCertificate = Path.Combine(folder, $"{name}-ca.crt");
        File.WriteAllText(CaCertificate, _ca.ExportCertificatePem());
    }

    public static TestCertificates CreateAuthority(string folder, string name) => new(folder, name);

    /// <summary>A certificate for <paramref name="name"/> (localhost, 127.0.0.1; server and client use) signed by this CA.</summary>
    public (string Certificate, string Key) Issue(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // server and client authentication
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var certificate = request.Create(_ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), serial);
        var certificatePath = Path.Combine(Folder, $"{name}.crt");
        var keyPath = Path.Combine(Folder, $"{name}.key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }
}
