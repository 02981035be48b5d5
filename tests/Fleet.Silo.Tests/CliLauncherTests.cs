using System.Text.RegularExpressions;

namespace Fleet.Silo.Tests;

/// <summary>`fleet` is a command: the launcher deploy/run.sh installs, and every fleet line of the README, as written, through a shell.</summary>
public partial class CliLauncherTests
{
    private static async Task<string> InstallAsync()
    {
        var bin = Repo.TempDir("bin");
        var (code, _, stderr) = await Repo.RunAsync(Path.Combine(Repo.Root, "deploy", "install-cli.sh"), [], TimeSpan.FromMinutes(3),
            new Dictionary<string, string> { ["FLEET_BIN_DIR"] = bin, ["FLEET_SKIP_BUILD"] = "1" });
        Assert.True(code == 0, stderr);
        Assert.Contains($"fleet CLI: {bin}/fleet", stderr);
        return bin;
    }

    private static Task<(int Code, string Out, string Err)> ShellAsync(string bin, string line) =>
        Repo.RunAsync("/bin/sh", ["-c", line], TimeSpan.FromSeconds(60),
            new Dictionary<string, string> { ["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}" });

    /// <summary>Every `fleet …` the README shows: the lines of its code blocks and its inline code, each command of a line.</summary>
    public static IEnumerable<string> ReadmeCommands()
    {
        var text = File.ReadAllText(Path.Combine(Repo.Root, "README.md"));
        var lines = new List<string>();
        var inBlock = false;
        foreach (var raw in text.Split('\n'))
        {
            if (raw.TrimStart().StartsWith("```", StringComparison.Ordinal)) { inBlock = !inBlock; continue; }
            if (inBlock && raw.TrimStart().StartsWith("fleet ", StringComparison.Ordinal)) lines.Add(Comment().Replace(raw, "").Trim());
            else if (!inBlock) lines.AddRange(Inline().Matches(raw).Select(m => m.Groups[1].Value));
        }
        return lines.SelectMany(l => l.Split("&&", StringSplitOptions.TrimEntries)).Where(c => c.StartsWith("fleet ", StringComparison.Ordinal)).Distinct();
    }

    [Fact]
    public async Task EveryFleetLineOfTheReadme_IsACommand_ThroughTheInstalledLauncher()
    {
        var bin = await InstallAsync();
        var commands = ReadmeCommands().ToList();
        Assert.True(commands.Count >= 15, $"found only {commands.Count} fleet lines in the README");
        var wrong = new List<string>();
        foreach (var command in commands)
        {
            var (code, stdout, stderr) = await ShellAsync(bin, command + " --help");
            if (code != 0 || !stdout.Contains("Usage:") || stderr.Contains("Unrecognized")) wrong.Add($"{command}: exit {code}: {stderr}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public async Task Help_ListsEveryVerb_WithAnExample()
    {
        var bin = await InstallAsync();
        var (code, stdout, _) = await ShellAsync(bin, "fleet --help");
        Assert.Equal(0, code);
        var verbs = stdout[stdout.IndexOf("Commands:", StringComparison.Ordinal)..].Split('\n').Skip(1)
            .Where(l => l.StartsWith("  ", StringComparison.Ordinal) && l.Trim().Length > 0).ToList();
        Assert.True(verbs.Count >= 10, stdout);
        Assert.All(verbs, v => Assert.Contains("e.g. fleet ", v));
    }

    [GeneratedRegex(@"\s+#.*$")]
    private static partial Regex Comment();

    [GeneratedRegex(@"`(fleet [^`]+)`")]
    private static partial Regex Inline();
}
