using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Agents;
using Fleet.Core.Security;

namespace Fleet.Core.Tests.Security;

public class ActionSignaturesTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-12-07T10:00:00Z");
    private static readonly ClusterKeys Cluster = new("the-cluster-secret-for-these-tests-0123456789");
    private static readonly ActionRequest Request = new("k-1", "web-01", "restart-services", "check http failed", "lease-7", "node/web-01")
    {
        Parameters = ImmutableDictionary<string, string>.Empty.Add("service", "api").Add("instance", "api-1"),
    };

    private static SignedAction Signed(ActionRequest? r = null, string node = "web-01", DateTimeOffset? expires = null) =>
        ActionSignatures.Sign(Cluster.ActionSigning, Cluster.ActionKeyId, r ?? Request, node, expires ?? Now.AddMinutes(2));

    private static System.Security.Cryptography.ECDsa PublicKey()
    {
        var key = System.Security.Cryptography.ECDsa.Create();
        key.ImportFromPem(Cluster.ActionPublicKeyPem);
        return key;
    }

    [Fact]
    public void Check_TheClustersSignature_ForThisNode_InTime_Passes() =>
        Assert.Null(ActionSignatures.Check(PublicKey(), Signed(), "web-01", Now));

    public static TheoryData<string, Func<SignedAction, SignedAction>> Tamperings() => new()
    {
        { "key", a => a with { Request = a.Request with { IdempotencyKey = "k-2" } } },
        { "action", a => a with { Request = a.Request with { Action = "reboot" } } },
        { "target", a => a with { Request = a.Request with { Target = "web-02" } } },
        { "subject", a => a with { Request = a.Request with { Subject = "node/web-02" } } },
        { "reason", a => a with { Request = a.Request with { Reason = "x" } } },
        { "lease", a => a with { Request = a.Request with { LeaseId = null } } },
        { "parameter", a => a with { Request = a.Request with { Parameters = a.Request.Parameters.SetItem("instance", "api-2") } } },
        { "extra parameter", a => a with { Request = a.Request with { Parameters = a.Request.Parameters.Add("x", "") } } },
        { "expiry", a => a with { ExpiresAt = a.ExpiresAt.AddMinutes(1) } },
        { "node", a => a with { Node = "web-02" } },
        { "key id", a => a with { KeyId = "other" } },
        { "signature", a => a with { Signature = Convert.ToBase64String(new byte[64]) } },
        { "not base64", a => a with { Signature = "%%%" } },
    };

    [Theory]
    [MemberData(nameof(Tamperings))]
    public void Check_AnyFieldChanged_FailsTheSignature(string field, Func<SignedAction, SignedAction> tamper)
    {
        var refusal = ActionSignatures.Check(PublicKey(), tamper(Signed()), "web-01", Now);
        Assert.True(refusal is { Kind: AgentRefusalKinds.BadSignature }, $"{field}: {refusal}");
    }

    [Fact]
    public void Check_Unsigned_OtherNode_Expired_TooLong_NoKey_EachSaysSo()
    {
        Assert.Equal(AgentRefusalKinds.Unsigned, ActionSignatures.Check(PublicKey(), Signed() with { Signature = null }, "web-01", Now)?.Kind);
        Assert.Equal(AgentRefusalKinds.OtherNode, ActionSignatures.Check(PublicKey(), Signed(node: "web-02"), "web-01", Now)?.Kind);
        Assert.Equal(AgentRefusalKinds.Expired, ActionSignatures.Check(PublicKey(), Signed(expires: Now.AddSeconds(-31)), "web-01", Now)?.Kind);
        Assert.Null(ActionSignatures.Check(PublicKey(), Signed(expires: Now.AddSeconds(-29)), "web-01", Now)); // within the clock skew
        Assert.Equal(AgentRefusalKinds.Expired, ActionSignatures.Check(PublicKey(), Signed(expires: Now.AddHours(1)), "web-01", Now)?.Kind);
        Assert.Equal(AgentRefusalKinds.NoActionKey, ActionSignatures.Check(null, Signed(), "web-01", Now)?.Kind);
        using var other = ClusterKeys.Random();
        Assert.Equal(AgentRefusalKinds.BadSignature,
            ActionSignatures.Check(PublicKey(), ActionSignatures.Sign(other.ActionSigning, other.ActionKeyId, Request, "web-01", Now.AddMinutes(1)), "web-01", Now)?.Kind);
    }
}
