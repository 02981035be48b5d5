using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Fleet.Core.Security;
using Microsoft.AspNetCore.DataProtection.Repositories;
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

/// <summary>
/// The key ring's store, sealed: every key element is written with an HMAC-SHA256 (under <see cref="ClusterKeys.StoreMacKey"/>)
/// over all of it — its id, its dates and its encrypted secret — and only elements whose seal holds are read back. A key
/// someone wrote into Redis or the data folder directly (a plain, unencrypted one, or one with its dates moved) is never used.
/// </summary>
public sealed class SealedXmlRepository(IXmlRepository inner, ClusterKeys keys) : IXmlRepository
{
    private const string Seal = "fleetSeal";

    public IReadOnlyCollection<XElement> GetAllElements() =>
        [.. inner.GetAllElements().Where(e => e.Attribute(Seal)?.Value is { } seal && CryptographicOperations.FixedTimeEquals(
            Encoding.ASCII.GetBytes(seal), Encoding.ASCII.GetBytes(Mac(e)))).Select(Unsealed)];

    public void StoreElement(XElement element, string friendlyName)
    {
        var sealedElement = Unsealed(element);
        sealedElement.SetAttributeValue(Seal, Mac(sealedElement));
        inner.StoreElement(sealedElement, friendlyName);
    }

    private static XElement Unsealed(XElement e)
    {
        var copy = new XElement(e);
        copy.Attribute(Seal)?.Remove();
        return copy;
    }

    private string Mac(XElement e) =>
        Convert.ToBase64String(HMACSHA256.HashData(keys.StoreMacKey, Encoding.UTF8.GetBytes(Unsealed(e).ToString(SaveOptions.DisableFormatting))));
}
