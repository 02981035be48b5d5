using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Fleet.Agent;

/// <summary>
/// What the processes and scripts the agent starts inherit from it — as little as possible. At start the agent empties its
/// ambient capability set (Linux), so a process it starts holds none of the capabilities systemd gave the agent (CAP_KILL,
/// CAP_SETUID, CAP_SETGID); its own permitted and effective sets stay. And no Fleet credential variable reaches a child,
/// whatever the agent's own environment holds.
/// </summary>
public static partial class AgentEnvironment
{
    private const int PrSetAmbient = 47, PrCapAmbientClearAll = 4;

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    /// <summary>Empties the ambient capability set (a no-op where there is none). False when the kernel refused.</summary>
    public static bool DropAmbientCapabilities() =>
        !OperatingSystem.IsLinux() || Prctl(PrSetAmbient, PrCapAmbientClearAll, 0, 0, 0) == 0;

    /// <summary>The variables a child never gets from the agent.</summary>
    public static readonly string[] Withheld = ["FLEET_KEY", "FLEET_KEY_FILE"];

    public static void Scrub(ProcessStartInfo psi)
    {
        foreach (var name in Withheld) psi.Environment.Remove(name);
    }

    /// <summary>Whether a user of that name exists on this host (from /etc/passwd; elsewhere, taken on trust).</summary>
    public static bool UserExists(string name) =>
        !File.Exists("/etc/passwd") || File.ReadLines("/etc/passwd").Any(l => l.Split(':')[0] == name);
}
