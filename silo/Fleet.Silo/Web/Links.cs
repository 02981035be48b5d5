namespace Fleet.Silo.Web;

/// <summary>Where a subject's page is.</summary>
public static class Links
{
    public static string Subject(string subject) =>
        subject.StartsWith("node/", StringComparison.Ordinal) ? "/ui/nodes/" + Uri.EscapeDataString(subject[5..])
        : subject.StartsWith("service/", StringComparison.Ordinal) ? "/ui/services/" + Uri.EscapeDataString(subject[8..])
        : subject.StartsWith("link/", StringComparison.Ordinal) ? "/ui/links/" + Uri.EscapeDataString(subject[5..])
        : subject.StartsWith("flow/", StringComparison.Ordinal) ? "/ui/flows/" + Uri.EscapeDataString(subject[5..])
        : subject.StartsWith("principal/", StringComparison.Ordinal) ? "/ui/principals/" + Uri.EscapeDataString(subject[10..])
        : "/ui/audit?subject=" + Uri.EscapeDataString(subject);
}
