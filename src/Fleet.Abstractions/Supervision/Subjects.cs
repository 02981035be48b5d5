namespace Fleet.Abstractions.Supervision;

/// <summary>
/// A subject is what the control loop acts on, written <c>kind/id</c>: <c>node/web-01</c>, <c>service/api</c>,
/// <c>link/a~b</c>, <c>principal/svc-backup@corp</c>. The kind is also the Orleans grain type of the subject's owner,
/// so the executor reaches any owner through <c>GrainId.Parse(subject)</c>. Scopes (what a lease touches) use the same
/// form: <c>domain/rack-a</c>, <c>service/api</c>.
/// </summary>
public static class Subjects
{
    public const string NodeKind = "node";
    public const string ServiceKind = "service";
    public const string DomainKind = "domain";
    public const string PrincipalKind = "principal";
    public const string LinkKind = "link";
    public const string FlowKind = "flow";
    /// <summary>The scope of containment: the security supervisor's budget (<c>security/default</c>).</summary>
    public const string SecurityKind = "security";
    /// <summary>The capacity supervisor, which asks the provisioner for machines (<c>capacity/default</c>).</summary>
    public const string CapacityKind = "capacity";

    public static string Node(string id) => $"{NodeKind}/{id}";

    public static string Service(string name) => $"{ServiceKind}/{name}";

    public static string Domain(string name) => $"{DomainKind}/{name}";

    public static string Principal(string id) => $"{PrincipalKind}/{id}";

    public static string Link(string id) => $"{LinkKind}/{id}";

    public static string Flow(string id) => $"{FlowKind}/{id}";

    public static string Security(string fleet) => $"{SecurityKind}/{fleet}";

    /// <summary>The kind and id of a subject or scope; a string with no kind is taken for a node id.</summary>
    public static (string Kind, string Id) Parse(string subject)
    {
        var slash = subject.IndexOf('/');
        return slash <= 0 ? (NodeKind, subject) : (subject[..slash], subject[(slash + 1)..]);
    }

    /// <summary>The subject written in full: a bare id (as stored by early versions) is a node.</summary>
    public static string Canonical(string subject) => subject.Contains('/') ? subject : Node(subject);

    public static bool IsKind(string subject, string kind) => subject.StartsWith(kind + "/", StringComparison.Ordinal);

    public static string IdOf(string subject) => Parse(subject).Id;

    /// <summary>How a subject is named inside a sentence: "node web-01", "service api".</summary>
    public static string Describe(string subject)
    {
        var (kind, id) = Parse(subject);
        return $"{kind} {id}";
    }

    /// <summary>The short name used in lists of leases: a node by its id alone (the usual case), anything else in full.</summary>
    public static string Short(string subject)
    {
        var (kind, id) = Parse(subject);
        return kind == NodeKind ? id : subject;
    }
}
