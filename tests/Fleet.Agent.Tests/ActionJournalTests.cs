using Microsoft.Extensions.Time.Testing;

namespace Fleet.Agent.Tests;

public class ActionJournalTests
{
    private static string Folder() => Path.Combine(Path.GetTempPath(), "fleet-tests", "journal-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void AKeyRunOrStarted_IsKnownToTheNextProcess_WithItsOutcome()
    {
        var dir = Folder();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-07T10:00:00Z"));
        var first = new ActionJournal(dir, time);
        first.Started("k1", "reboot");
        first.Done("k1", "reboot", true, "restarted web");
        first.Started("k2", "restart-services");
        var next = new ActionJournal(dir, time);
        Assert.Equal(new ActionJournal.Entry("k1", "reboot", time.GetUtcNow(), true, true, "restarted web"), next.Find("k1"));
        var unfinished = ActionJournal.Replay(next.Find("k2")!);
        Assert.True(unfinished.Replayed && !unfinished.Succeeded);
        Assert.Contains("did not finish", unfinished.Detail);
        Assert.Null(next.Find("k3"));
    }

    [Fact]
    public void ALineCutShortByACrash_LeavesTheOthers_AndOldKeysAreForgotten()
    {
        var dir = Folder();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-07T10:00:00Z"));
        var journal = new ActionJournal(dir, time);
        journal.Done("old", "reboot", true, "x");
        time.Advance(ActionJournal.Keep + TimeSpan.FromMinutes(1));
        journal.Done("new", "reboot", false, "y");
        File.AppendAllText(Path.Combine(dir, "actions.journal"), "{\"Key\":\"torn\",\"Act");
        var next = new ActionJournal(dir, time);
        Assert.Null(next.Find("old"));
        Assert.NotNull(next.Find("new"));
        Assert.Null(next.Find("torn"));
        Assert.DoesNotContain("torn", File.ReadAllText(Path.Combine(dir, "actions.journal")));
    }
}
