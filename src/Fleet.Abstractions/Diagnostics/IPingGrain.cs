using Fleet.Abstractions.Security;
namespace Fleet.Abstractions.Diagnostics;

/// <summary>A grain that does nothing: the raw call ceiling that benchmarks measure Fleet's own paths against.</summary>
[Alias("fleet.IPingGrain")]
public interface IPingGrain : IGrainWithIntegerKey
{
    [Alias("Ping"), RequiresRole(FleetRole.Viewer)]
    Task PingAsync();
}
