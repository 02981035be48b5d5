namespace Fleet.Grains;

/// <summary>A grain whose state write failed must not go on from memory that storage never saw.</summary>
internal static class StateWrites
{
    /// <summary>Writes the state; when storage refuses, deactivates the grain (the next call reloads what was stored) and rethrows.</summary>
    public static Task WriteOrResetAsync<T>(this IPersistentState<T> state, Action deactivate) => WriteOrResetAsync(state.WriteStateAsync, deactivate);

    /// <summary>The same for a grain that writes its row through the storage itself.</summary>
    public static async Task WriteOrResetAsync(Func<Task> write, Action deactivate)
    {
        try
        {
            await write();
        }
        catch
        {
            deactivate();
            throw;
        }
    }
}
