using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Fleet.Core.Security;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace Fleet.Silo.Hosting;

/// <summary>
/// The web view's cookie keys (ASP.NET Core Data Protection's key ring) encrypted at rest with AES-256-GCM under
/// <see cref="ClusterKeys.StoreKey"/>, a key derived from the cluster secret: whoever reads Redis or the data folder
/// finds only ciphertext, and cannot mint a session.
/// </summary>
public sealed class ClusterKeyXmlEncryptor(ClusterKeys keys) : IXmlEncryptor
{
    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var plain = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var sealedBytes = new byte[12 + 16 + plain.Length];
        var nonce = sealedBytes.AsSpan(0, 12);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(keys.StoreKey, 16))
            aes.Encrypt(nonce, plain, sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16));
        var element = new XElement("encryptedKey",
            new XComment(" AES-256-GCM under a key derived from Fleet's cluster secret (docs/security.md) "),
            new XElement("value", Convert.ToBase64String(sealedBytes)));
        return new EncryptedXmlInfo(element, typeof(ClusterKeyXmlDecryptor));
    }
}

/// <summary>Reads what <see cref="ClusterKeyXmlEncryptor"/> wrote (made by Data Protection with the service provider).</summary>
public sealed class ClusterKeyXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        var keys = services.GetRequiredService<ClusterKeys>();
        var sealedBytes = Convert.FromBase64String(encryptedElement.Element("value")?.Value ?? throw new CryptographicException("no <value> in an encrypted key"));
        if (sealedBytes.Length < 28) throw new CryptographicException("an encrypted key is too short");
        var plain = new byte[sealedBytes.Length - 28];
        using (var aes = new AesGcm(keys.StoreKey, 16))
            aes.Decrypt(sealedBytes.AsSpan(0, 12), sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), plain);
        return XElement.Parse(Encoding.UTF8.GetString(plain));
    }
}
