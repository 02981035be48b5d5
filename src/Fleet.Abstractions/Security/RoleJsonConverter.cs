using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fleet.Abstractions.Security;

/// <summary>Roles are written and read in lower case in JSON ("viewer"), as the CLI and the docs name them.</summary>
public sealed class RoleJsonConverter() : JsonStringEnumConverter<FleetRole>(JsonNamingPolicy.CamelCase, allowIntegerValues: false);
