using System.Collections.Immutable;
using System.Text;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Abstractions.Tracing;
using Fleet.Core.Replay;
using Fleet.Core.Text;
using Fleet.Grains.Audit;
using Microsoft.Extensions.Options;

namespace Fleet.Grains.Tracing;

[GenerateSerializer, Alias("fleet.TraceState")]
public sealed record TraceState
{
    [Id(0)] public TraceStatus? Last { get; init; }
    [Id(1)] public string? File { get; init; }
    /// <summary>The silo whose folder holds the file.</summary>
    [Id(2)] public string? Silo { get; init; }
}

/// <summary>
/// The fleet's one input trace. Starting it writes the header, the policy in force and a snapshot of the registered
/// nodes (so a replay begins from the fleet as it was), then every silo's recorded lines are appended as they come,
/// until the window ends, the size bound is reached or a person stops it. The file lives in this grain's silo's folder.
/// </summary>
public sealed class TraceGrain(
    [PersistentState("trace", StorageNames.Fleet)] IPersistentState<TraceState> state,
    TraceRecorder recorder, IOptions<TraceOptions> options, IAuditStore audit, TimeProvider time) : Grain, ITraceGrain
{
    public const long DefaultMaxBytes = 256L << 20;
    private FileStream? _writer;
    private long _entries, _bytes;

    private TraceStatus Status => state.State.Last ?? new TraceStatus(false, null, null, null, null, null, 0, 0, 0, null);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A recording cut short by a silo's end ends here: its file stays readable up to the last whole line.
        if (Status.Recording) state.State = state.State with { Last = Status with { Recording = false, StoppedAt = time.GetUtcNow(), StopReason = "the silo recording it stopped" } };
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_writer is not null) await StopCoreAsync("the silo recording it stopped");
    }

    public async Task<TraceStatus> StartAsync(TimeSpan duration, long maxBytes, string by)
    {
        if (_writer is not null) await StopCoreAsync($"replaced by a new recording started by {by}");
        var now = time.GetUtcNow();
        var id = $"tr-{now:yyyyMMdd-HHmmss}";
        Directory.CreateDirectory(options.Value.Directory);
        var file = Path.Combine(options.Value.Directory, $"{id}.jsonl");
        if (state.State.File is { } old && old != file) TryDelete(old);
        _writer = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.Read);
        _entries = _bytes = 0;
        var status = new TraceStatus(true, id, now, now + duration, null, by, 0, 0, maxBytes, null);
        state.State = new TraceState { Last = status, File = file, Silo = RuntimeIdentity };
        recorder.Switch(true);

        var lines = new List<string> { new TraceEntry { Kind = TraceKinds.Header, At = now, Format = TraceEntry.CurrentFormat, Until = now + duration, By = by }.ToLine() };
        var policy = await GrainFactory.GetGrain<IPolicyGrain>(FleetNames.Default).GetCurrentDocumentAsync();
        lines.Add(new TraceEntry { Kind = TraceKinds.Policy, At = now, Version = policy.Version, Document = policy.Document, By = policy.AppliedBy, Snapshot = true }.ToLine());
        var fleet = await GrainFactory.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).GetStatusAsync();
        if (fleet.Frozen) lines.Add(new TraceEntry { Kind = TraceKinds.Freeze, At = now, By = fleet.FrozenBy, Reason = fleet.FreezeReason, Snapshot = true }.ToLine());
        foreach (var domain in fleet.Domains)
        {
            var members = await GrainFactory.GetGrain<IDomainSupervisorGrain>(domain).GetMembersAsync();
            foreach (var chunk in members.Chunk(256))
                foreach (var node in await Task.WhenAll(chunk.Select(m => GrainFactory.GetGrain<INodeGrain>(m.NodeId).GetStatusAsync())))
                {
                    if (node is null || node.AdminState == AdminState.Decommissioned) continue;
                    lines.Add(new TraceEntry
                    {
                        Kind = TraceKinds.Register, At = now, Node = node.NodeId, Snapshot = true,
                        Registration = new NodeRegistration(node.NodeId, node.Domain, node.Capacity, node.Labels),
                    }.ToLine());
                    if (node.AdminState is AdminState.Cordoned or AdminState.Draining)
                        lines.Add(new TraceEntry
                        {
                            Kind = node.AdminState == AdminState.Cordoned ? TraceKinds.Cordon : TraceKinds.Drain, At = now, Node = node.NodeId,
                            By = "snapshot", Force = node.AdminState == AdminState.Draining ? true : null, Snapshot = true,
                        }.ToLine());
                }
        }
        await WriteAsync(lines);
        await state.WriteOrResetAsync(DeactivateOnIdle);
        await audit.AppendAsync([Decisions.Create(now, by, "trace", DecisionKinds.Operator,
            $"Started recording the fleet's input trace {id} for {Format.Duration(duration)} (up to {Format.Bytes(maxBytes)}), requested by {by}: " +
            $"the policy in force (version {policy.Version}) and {lines.Count(l => l.Contains("\"kind\":\"register\""))} registered nodes first.", policy.Version, rule: "trace")]);
        return state.State.Last!;
    }

    public async Task<TraceStatus> StopAsync(string by)
    {
        if (_writer is null) return Status;
        return await StopCoreAsync($"stopped by {by}");
    }

    public Task<TraceStatus> GetStatusAsync()
    {
        if (_writer is not null && time.GetUtcNow() >= Status.Until) return StopCoreAsync("its window ended");
        return Task.FromResult(_writer is null ? Status : Status with { Entries = _entries, Bytes = _bytes });
    }

    public async Task<TraceStatus> AppendAsync(ImmutableArray<string> lines)
    {
        if (_writer is null) return Status;
        if (!lines.IsDefaultOrEmpty) await WriteAsync(lines);
        if (time.GetUtcNow() >= Status.Until) return await StopCoreAsync("its window ended");
        if (_bytes >= Status.MaxBytes) return await StopCoreAsync($"it reached its size bound ({Format.Bytes(Status.MaxBytes)})");
        return Status with { Entries = _entries, Bytes = _bytes };
    }

    public async Task<TraceChunk?> ReadAsync(long offset, int maxChars)
    {
        if (state.State.File is not { } path) return null;
        if (!File.Exists(path))
            throw new InvalidOperationException(state.State.Silo == RuntimeIdentity ? "the trace's file is gone"
                : $"the trace's file is on silo {state.State.Silo}, and the trace grain now runs on another silo");
        if (_writer is not null) await _writer.FlushAsync();
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (offset < 0 || offset > file.Length) return null;
        file.Position = offset;
        var buffer = new byte[Math.Clamp(maxChars, 1024, 4 << 20)];
        var read = await file.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false);
        var end = read < buffer.Length ? read : Array.LastIndexOf(buffer, (byte)'\n', read - 1) + 1;
        if (end <= 0) end = read; // one line longer than the chunk: send it in pieces (the reader joins them)
        var next = offset + end;
        return new TraceChunk(offset, Encoding.UTF8.GetString(buffer, 0, end), next >= file.Length && _writer is null ? null : next);
    }

    private async Task WriteAsync(IEnumerable<string> lines)
    {
        var sb = new StringBuilder();
        var n = 0;
        foreach (var line in lines) { sb.Append(line).Append('\n'); n++; }
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        await _writer!.WriteAsync(bytes);
        await _writer.FlushAsync();
        _entries += n;
        _bytes += bytes.Length;
    }

    private async Task<TraceStatus> StopCoreAsync(string why)
    {
        var now = time.GetUtcNow();
        if (_writer is not null)
        {
            // This silo's lines not yet sent are written too (another silo's last second is not: it learns of the stop by its next send).
            var rest = recorder.Take(int.MaxValue);
            if (!rest.IsEmpty) await WriteAsync(rest);
            await WriteAsync([new TraceEntry { Kind = TraceKinds.End, At = now, Reason = why }.ToLine()]);
        }
        recorder.Switch(false);
        if (_writer is not null)
        {
            await _writer.DisposeAsync();
            _writer = null;
        }
        var status = Status with { Recording = false, StoppedAt = now, StopReason = why, Entries = _entries, Bytes = _bytes };
        state.State = state.State with { Last = status };
        await state.WriteOrResetAsync(DeactivateOnIdle);
        await audit.AppendAsync([Decisions.Create(now, "trace", "trace", DecisionKinds.Operator,
            $"Stopped recording the input trace {status.Id}: {why}; {status.Entries:N0} entries, {Format.Bytes(status.Bytes)}.", 0, rule: "trace")]);
        return status;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
