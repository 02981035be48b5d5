namespace Fleet.Silo.Web;

/// <summary>Where a subject's page is.</summary>
public static class Links
{
    public static string Subject(string subject) =>
        subject.StartsWith("node/", StringComparison.Ordinal) ? "/ui/nodes/" + Uri.EscapeDataString(subject[5..])
        : subject.StartsWith("service/", StringComparison.Ordinal) ? "/ui/services/" + Uri.EscapeDataString(subject[8..])
        : "/ui/audit?subject=" + Uri.EscapeDataString(subject);
}
