using System.ComponentModel.DataAnnotations;

namespace Fleet.Silo.Hosting;

/// <summary>The silo's settings, bound from the <c>Fleet</c> section (command line <c>--Fleet:X</c>, environment <c>Fleet__X</c>, appsettings).</summary>
public sealed class FleetOptions
{
    public const string Section = "Fleet";

    /// <summary>Folder of the embedded store (grain state and audit). Default <c>data</c>, relative to the working folder.</summary>
    [Required(AllowEmptyStrings = false)]
    public string DataDir { get; set; } = "data";

    /// <summary>Silo-to-silo port. Default 11111.</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port clients (SDK, CLI) connect to. Default 30000.</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Orleans cluster id. Default <c>fleet</c>.</summary>
    [Required(AllowEmptyStrings = false)]
    public string ClusterId { get; set; } = "fleet";

    /// <summary>Orleans service id. Default <c>fleet</c>.</summary>
    [Required(AllowEmptyStrings = false)]
    public string ServiceId { get; set; } = "fleet";
}
