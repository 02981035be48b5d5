namespace Fleet.Client;

/// <summary>
/// Where a Fleet key is kept on a machine: the file the silo writes its first admin key to, and the CLI and the agent read.
/// One line, the key; readable by its owner only.
/// </summary>
public static class FleetKeyFile
{
    /// <summary><c>~/.config/fleet/admin.key</c>.</summary>
    public static string DefaultPath =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } home ? home : ".", ".config", "fleet", "admin.key");

    /// <summary>The key in <paramref name="path"/>, or null when there is no such file (or it cannot be read).</summary>
    public static string? TryRead(string path)
    {
        try
        {
            return File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } key ? key : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The key a tool on this machine uses when none is given: <c>$FLEET_KEY</c>, else the file named by
    /// <c>$FLEET_KEY_FILE</c>, else <see cref="DefaultPath"/>; null when none is found.
    /// </summary>
    public static string? FromEnvironment() =>
        Environment.GetEnvironmentVariable("FLEET_KEY") is { Length: > 0 } key ? key.Trim()
        : TryRead(Environment.GetEnvironmentVariable("FLEET_KEY_FILE") is { Length: > 0 } file ? file : DefaultPath);
}
