using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Fleet.Abstractions.Nodes;

namespace Fleet.Core.Health;

/// <summary>
/// Where the silo's own probe of a silent node may go: to the node's registered address, or into one of the policy's
/// <c>probes.allowedNetworks</c> — never, unless such a network names it, to a loopback, link-local or other cloud metadata
/// address (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200, and any of them through NAT64), an unspecified
/// (0.0.0.0/8, ::) or multicast address, nor to one of the silo's own addresses. Checked when a node registers (a probe
/// or address it may not use is refused there) and again when a probe is about to connect, on the addresses its name
/// resolves to.
/// </summary>
public static class ProbeRules
{
    /// <summary>The silo's own endpoints a probe may not reach: its addresses and ports.</summary>
    public sealed record Own(IReadOnlySet<IPAddress> Addresses, IReadOnlySet<int> Ports)
    {
        public static Own None { get; } = new(new HashSet<IPAddress>(), new HashSet<int>());
    }

    /// <summary>Why a registration's probe or address may not be probed (field and sentence), or null when it may.</summary>
    public static (string Field, string Why)? Refusal(NodeRegistration r, ImmutableArray<string> allowedNetworks, Own own)
    {
        var networks = Networks(allowedNetworks);
        if (r.Address is { } address && IPAddress.TryParse(address, out var ip) && Forbidden(ip, null, networks, own) is { } why)
            return ("address", $"'{address}' is {why}; the silo does not probe it unless probes.allowedNetworks names it");
        if (r.Probe is not { } probe || !TryHostPort(probe, out var host, out var port)) return null;
        if (!IPAddress.TryParse(host, out var target))
            return string.Equals(host, r.Address, StringComparison.OrdinalIgnoreCase) ? null
                : ("probe.address", $"'{probe.Address}' names the host '{host}', not the node's registered address ({r.Address ?? "none"}); a probe by name must use the registered address");
        if (Forbidden(target, port, networks, own) is { } reason)
            return ("probe.address", $"'{probe.Address}' is {reason}; the silo does not probe it unless probes.allowedNetworks names it");
        if (InAny(target, networks) || r.Address is { } a && IPAddress.TryParse(a, out var registered) && Same(registered, target)) return null;
        return ("probe.address", $"'{probe.Address}' is neither the node's registered address ({r.Address ?? "none"}) nor inside probes.allowedNetworks");
    }

    /// <summary>Why the silo must not connect to <paramref name="ip"/> (on <paramref name="port"/>), or null when it may.</summary>
    public static string? Forbidden(IPAddress ip, int? port, ImmutableArray<string> allowedNetworks, Own own) =>
        Forbidden(ip, port, Networks(allowedNetworks), own);

    private static string? Forbidden(IPAddress ip, int? port, IReadOnlyList<IPNetwork> networks, Own own)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        if (InAny(ip, networks)) return null;
        // An IPv4 address written in IPv6 through NAT64 (64:ff9b::/96) is judged as the address it carries.
        if (Nat64.Contains(ip) && ip.GetAddressBytes() is var b) return Forbidden(new IPAddress(b[12..]), port, networks, own);
        if (IPAddress.IsLoopback(ip)) return "a loopback address";
        if (ip.IsIPv6LinkLocal || ip.AddressFamily == AddressFamily.InterNetwork && ip.GetAddressBytes() is [169, 254, ..]) return "a link-local address (a cloud's metadata service answers there)";
        if (Metadata.Any(m => m.Contains(ip))) return "a cloud's metadata address";
        if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any) || ip.AddressFamily == AddressFamily.InterNetwork && ip.GetAddressBytes()[0] == 0) return "the unspecified address";
        if (ip.IsIPv6Multicast || ip.AddressFamily == AddressFamily.InterNetwork && ip.GetAddressBytes()[0] is >= 224 and <= 239) return "a multicast address";
        if (own.Addresses.Any(a => Same(a, ip))) return port is { } p && own.Ports.Contains(p) ? $"one of the silo's own ports ({p})" : "one of the silo's own addresses";
        return null;
    }

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");

    /// <summary>Metadata services outside link-local: AWS's IPv6 one, Alibaba Cloud's.</summary>
    private static readonly IPNetwork[] Metadata = [IPNetwork.Parse("fd00:ec2::254/128"), IPNetwork.Parse("100.100.100.200/32")];

    private static IReadOnlyList<IPNetwork> Networks(ImmutableArray<string> allowed) =>
        allowed.IsDefaultOrEmpty ? [] : [.. allowed.Select(n => IPNetwork.TryParse(n, out var net) ? (IPNetwork?)net : null).OfType<IPNetwork>()];

    private static bool InAny(IPAddress ip, IReadOnlyList<IPNetwork> networks) =>
        networks.Any(n => n.Contains(ip) || ip.IsIPv4MappedToIPv6 && n.Contains(ip.MapToIPv4()));

    private static bool Same(IPAddress a, IPAddress b) =>
        (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).Equals(b.IsIPv4MappedToIPv6 ? b.MapToIPv4() : b);

    /// <summary>The host and port a probe connects to (a tcp probe's host:port, an http probe's URL).</summary>
    public static bool TryHostPort(NodeProbe probe, out string host, out int port)
    {
        host = "";
        port = 0;
        if (probe.Kind == ProbeKind.Tcp)
        {
            var colon = probe.Address.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(probe.Address[(colon + 1)..], out port)) return false;
            host = probe.Address[..colon].Trim('[', ']');
            return true;
        }
        if (!Uri.TryCreate(probe.Address, UriKind.Absolute, out var url)) return false;
        host = url.IdnHost.Trim('[', ']');
        port = url.Port;
        return true;
    }
}
