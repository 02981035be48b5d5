namespace Fleet.Grains;

/// <summary>The grain storage provider every Fleet grain persists its state in.</summary>
public static class StorageNames
{
    public const string Fleet = "fleet";
}
