using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Fleet.Client;
using Fleet.Silo.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fleet.Cluster.Tests;

/// <summary>
/// A cluster of two silo processes on Redis with mutual TLS on both of Orleans' ports, each port with its own CA: the
/// silos find each other over TLS; a client needs a certificate from the clients' CA to connect, and then still a key; a
/// client's certificate does not open the silo port.
/// </summary>
public class TlsTests(SharedRedis redis) : IClassFixture<SharedRedis>
{
    /// <summary>A small PKI in a folder: the silos' CA and the clients' CA, a silo certificate and a client certificate (PEM).</summary>
    private sealed class Pki
    {
        public string Dir { get; } = Repo.TempDir("pki");
        public string SiloCa => Path.Combine(Dir, "silo-ca.crt");
        public string ClientCa => Path.Combine(Dir, "client-ca.crt");
        public (string Cert, string Key) Silo => (Path.Combine(Dir, "silo.crt"), Path.Combine(Dir, "silo.key"));
        public (string Cert, string Key) Client => (Path.Combine(Dir, "client.crt"), Path.Combine(Dir, "client.key"));

        public Pki()
        {
            var now = DateTimeOffset.UtcNow;
            using var siloCaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using var siloCa = Ca("Fleet silos CA", siloCaKey, now);
            using var clientCaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using var clientCa = Ca("Fleet clients CA", clientCaKey, now);
            File.WriteAllText(SiloCa, siloCa.ExportCertificatePem());
            File.WriteAllText(ClientCa, clientCa.ExportCertificatePem());
            Leaf("fleet-silo", siloCa, Silo, now, server: true);
            Leaf("fleet-cli", clientCa, Client, now, server: false);
        }

        private static X509Certificate2 Ca(string name, ECDsa key, DateTimeOffset now)
        {
            var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            return request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
        }

        private static void Leaf(string name, X509Certificate2 issuer, (string Cert, string Key) files, DateTimeOffset now, bool server)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("fleet");
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(server
                ? [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")] : [new Oid("1.3.6.1.5.5.7.3.2")], false));
            using var certificate = request.Create(issuer, now.AddMinutes(-5), now.AddHours(12), RandomNumberGenerator.GetBytes(8));
            File.WriteAllText(files.Cert, certificate.ExportCertificatePem());
            File.WriteAllText(files.Key, key.ExportPkcs8PrivateKeyPem());
        }
    }

    private static async Task<IHost?> TryConnectAsync(string gateway, string serviceId, string? ca, (string Cert, string Key)? cert, string? key)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.AddFleetClient(o =>
        {
            o.Gateways = gateway;
            o.ClusterId = o.ServiceId = serviceId;
            o.Key = key;
            o.TlsCa = ca;
            o.TlsCertificate = cert?.Cert;
            o.TlsKey = cert?.Key;
            o.ConnectAttempts = 2;
        });
        var host = builder.Build();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await host.StartAsync(cts.Token);
            return host;
        }
        catch (Exception)
        {
            host.Dispose();
            return null;
        }
    }

    [Fact]
    public async Task TlsCluster_SilosJoinOverTls_AClientNeedsACertificateAndAKey_AClientCertificateDoesNotOpenTheSiloPort()
    {
        var pki = new Pki();
        await using var cluster = new ClusterSilos(redis.Connection,
            $"--Fleet:Tls:Certificate={pki.Silo.Cert}", $"--Fleet:Tls:Key={pki.Silo.Key}", $"--Fleet:Tls:SiloCa={pki.SiloCa}", $"--Fleet:Tls:ClientCa={pki.ClientCa}");
        await cluster.StartAsync(2);
        // The two silos found each other over the TLS silo port: both gateways are live.
        var gateways = await ClusterSilos.GetAsync(cluster.Silos[0]!, "/api/v1/gateways");
        for (var i = 0; i < 100 && gateways.GetProperty("gateways").GetArrayLength() < 2; i++)
        {
            await Task.Delay(200);
            gateways = await ClusterSilos.GetAsync(cluster.Silos[0]!, "/api/v1/gateways");
        }
        Assert.Equal(2, gateways.GetProperty("gateways").GetArrayLength());
        var gateway = cluster.Silos[0]!.Gateway;

        // No TLS at all, or TLS without a client certificate: no connection.
        Assert.Null(await TryConnectAsync(gateway, cluster.ServiceId, null, null, cluster.AdminKey));
        Assert.Null(await TryConnectAsync(gateway, cluster.ServiceId, pki.SiloCa, null, cluster.AdminKey));
        // A client certificate is no credential: without a key the call is refused.
        using (var noKey = await TryConnectAsync(gateway, cluster.ServiceId, pki.SiloCa, pki.Client, null))
        {
            Assert.NotNull(noKey);
            var e = await Assert.ThrowsAsync<FleetAccessDeniedException>(() => noKey!.Services.GetRequiredService<IFleetClient>().ListNodesAsync());
            Assert.True(e.Unauthenticated);
        }
        using (var full = await TryConnectAsync(gateway, cluster.ServiceId, pki.SiloCa, pki.Client, cluster.AdminKey))
        {
            Assert.NotNull(full);
            await full!.Services.GetRequiredService<IFleetClient>().ListNodesAsync();
        }

        // The silo port takes the silos' certificate and refuses the clients'.
        Assert.True(await HandshakeAsync(cluster.Silos[1]!.SiloPort, pki.Silo, pki.SiloCa));
        Assert.False(await HandshakeAsync(cluster.Silos[1]!.SiloPort, pki.Client, pki.SiloCa));
        // And the gateway refuses a silo certificate presented as a client's (another CA).
        Assert.False(await HandshakeAsync(cluster.Silos[1]!.GatewayPort, pki.Silo, pki.SiloCa));
    }

    /// <summary>Whether a TLS connection with this certificate is taken by the port: the handshake completes and the server does not drop it.</summary>
    private static async Task<bool> HandshakeAsync(int port, (string Cert, string Key) certificate, string serverCa)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port);
        var trust = FleetTls.LoadBundle(serverCa);
        using var tls = new SslStream(tcp.GetStream(), false, (_, cert, _, _) => cert is X509Certificate2 c && FleetTls.ChainsTo(c, trust));
        try
        {
            using var mine = FleetTls.LoadCertificate(certificate.Cert, certificate.Key);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "fleet", ClientCertificates = [mine], EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
            }, cts.Token);
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException)
        {
            return false;
        }
        // TLS 1.3 reports a refused client certificate only on the first read. A taken connection stays open, waiting for
        // Orleans' preamble from us: a read that is still waiting after 2 s means the port took it.
        try
        {
            using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            return await tls.ReadAsync(new byte[1], quiet.Token) > 0;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
        {
            return false;
        }
    }
}
