using System.Security.Cryptography;
using System.Text;

namespace Fleet.Core.Security;

/// <summary>
/// The keys the silos of one cluster share, each derived (HKDF-SHA256, its own label) from one cluster secret given by
/// configuration: the key that stamps the silos' own grain calls, the keys that encrypt and authenticate the web view's
/// cookie keys at rest, and the ECDSA P-256 key that signs every action sent to an agent. Whoever holds the secret
/// can act as a silo; it never goes into the store, Redis, a log or the trail.
/// </summary>
public sealed class ClusterKeys : IDisposable
{
    /// <summary>The shortest secret taken (characters; a secret from <c>openssl rand -base64 32</c> has 44).</summary>
    public const int MinSecretLength = 32;

    public ClusterKeys(string secret)
    {
        if (secret is null || secret.Trim().Length < MinSecretLength)
            throw new ArgumentException($"a cluster secret must be at least {MinSecretLength} characters", nameof(secret));
        var material = Encoding.UTF8.GetBytes(secret.Trim());
        StampKey = Derive(material, "fleet/call-stamp/v1");
        StoreKey = Derive(material, "fleet/store-encryption/v1");
        StoreMacKey = Derive(material, "fleet/store-mac/v1");
        TrailKey = Derive(material, "fleet/trail/v1");
        ActionSigning = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = SigningScalar(material) });
        ActionPublicKeyPem = ActionSigning.ExportSubjectPublicKeyInfoPem();
        ActionKeyId = Convert.ToHexStringLower(SHA256.HashData(ActionSigning.ExportSubjectPublicKeyInfo()))[..16];
    }

    /// <summary>A cluster of one with a secret of its own that nothing else knows (in-process test clusters, tools).</summary>
    public static ClusterKeys Random() => new(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));

    /// <summary>The HMAC key of the silos' call stamps.</summary>
    public byte[] StampKey { get; }

    /// <summary>The AES-256 key that encrypts secrets Fleet keeps in its store (the web view's cookie keys).</summary>
    public byte[] StoreKey { get; }

    /// <summary>The HMAC-SHA256 key that authenticates what Fleet keeps in its store under its own seal (the web view's key ring).</summary>
    public byte[] StoreMacKey { get; }

    /// <summary>The HMAC-SHA256 key of the trail's chain (<c>TrailChain</c>).</summary>
    public byte[] TrailKey { get; }

    /// <summary>The private key that signs actions; agents hold <see cref="ActionPublicKeyPem"/>.</summary>
    public ECDsa ActionSigning { get; }

    /// <summary>The public half of <see cref="ActionSigning"/> (SubjectPublicKeyInfo, PEM), for agents' config.</summary>
    public string ActionPublicKeyPem { get; }

    /// <summary>A short name of the signing key (the first 16 hex digits of SHA-256 over its public key).</summary>
    public string ActionKeyId { get; }

    /// <summary>Makes a new secret (44 base64 characters).</summary>
    public static string NewSecret() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// The secret a file holds; with <paramref name="create"/>, a missing file is made first (owner-only, in an owner-only
    /// folder), as the first start does with the admin key.
    /// </summary>
    public static string ReadOrCreate(string path, bool create)
    {
        if (!File.Exists(path))
        {
            if (!create) throw new FileNotFoundException($"the cluster secret file {path} does not exist", path);
            var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
            if (!Directory.Exists(folder))
            {
                if (OperatingSystem.IsWindows()) Directory.CreateDirectory(folder);
                else Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            try
            {
                using var stream = new FileStream(path, fileOptions);
                using var writer = new StreamWriter(stream);
                writer.WriteLine(NewSecret());
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process made it first: read theirs.
            }
        }
        return File.ReadAllText(path).Trim();
    }

    private static byte[] Derive(byte[] material, string label) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, material, 32, salt: null, info: Encoding.UTF8.GetBytes(label));

    /// <summary>A P-256 private scalar from the secret: HKDF output, retried with a counter in the (vanishing) case it is not in [1, n).</summary>
    private static byte[] SigningScalar(byte[] material)
    {
        var order = System.Numerics.BigInteger.Parse("0FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", System.Globalization.NumberStyles.HexNumber);
        for (var i = 0; ; i++)
        {
            var d = Derive(material, $"fleet/action-signing/v1/{i}");
            var value = new System.Numerics.BigInteger(d, isUnsigned: true, isBigEndian: true);
            if (value > 0 && value < order) return d;
        }
    }

    public void Dispose() => ActionSigning.Dispose();
}
