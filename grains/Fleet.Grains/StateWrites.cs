namespace Fleet.Grains;

/// <summary>A grain whose state write failed must not go on from memory that storage never saw.</summary>
internal static class StateWrites
{
    /// <summary>Writes the state; when storage refuses, deactivates the grain (the next call reloads what was stored) and rethrows.</summary>
    public static async Task WriteOrResetAsync<T>(this IPersistentState<T> state, Action deactivate)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            deactivate();
            throw;
        }
    }
}
