using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace Fleet.Client;

/// <summary>
/// Mutual TLS on Orleans' ports (Microsoft.Orleans.Connections.Security), with trust named per port: a connection is taken
/// only when the other side's certificate chains to one of the CAs that port trusts — the silo port trusts the silos' CA,
/// the gateway the clients' CA, and a client the silos' CA for the gateway it reaches. Certificates and CAs are PEM files;
/// a CA file may hold several (a bundle: how CAs are rotated).
/// </summary>
public static class FleetTls
{
    /// <summary>A certificate with its private key from two PEM files, usable by either end of a TLS connection.</summary>
    public static X509Certificate2 LoadCertificate(string certificatePem, string keyPem)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificatePem, keyPem);
        // An ephemeral PEM key is not always usable by the platform's TLS: carry it through PKCS#12 once.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Every certificate in a PEM file (a CA bundle).</summary>
    public static X509Certificate2Collection LoadBundle(string pem)
    {
        var bundle = new X509Certificate2Collection();
        bundle.ImportFromPemFile(pem);
        if (bundle.Count == 0) throw new InvalidOperationException($"{pem} holds no certificate");
        return bundle;
    }

    /// <summary>Takes a remote certificate only when it chains to one of <paramref name="roots"/> (and nothing else: not the system's store).</summary>
    public static RemoteCertificateValidator TrustOnly(X509Certificate2Collection roots) => (certificate, _, _) => ChainsTo(certificate, roots);

    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection roots)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    /// <summary>A client's side: its certificate (null: none, and a gateway that asks for one refuses it), the gateway's CA.</summary>
    public static void Configure(TlsOptions o, X509Certificate2? certificate, X509Certificate2Collection siloCa)
    {
        o.LocalCertificate = certificate;
        o.ClientCertificateMode = certificate is null ? RemoteCertificateMode.NoCertificate : RemoteCertificateMode.RequireCertificate;
        o.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        o.RemoteCertificateValidation = TrustOnly(siloCa);
        o.OnAuthenticateAsClient = (_, a) => a.TargetHost = "fleet";
    }
}
