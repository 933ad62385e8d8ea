using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Liftoff.Contracts;
using Polly;
using Polly.Retry;

namespace Liftoff.Client;

/// <summary>The typed Liftoff API client used by the CLI, the agent and <see cref="Run"/>.</summary>
public sealed class LiftoffClient : IDisposable
{
    private static readonly ResiliencePropertyKey<bool> Resendable = new("liftoff.resendable");
    private static readonly ResiliencePropertyKey<bool> Idempotent = new("liftoff.idempotent");
    private static readonly ResiliencePropertyKey<long> GiveUpAt = new("liftoff.give-up-at");

    private readonly HttpClient _http;

    private readonly ResiliencePipeline<HttpResponseMessage> _retry;

    /// <summary>For presigned URLs to a bucket: the same connections, but never the Liftoff key.</summary>
    private readonly HttpClient _direct;

    /// <summary>Creates a client for the server and key in <paramref name="settings"/>.</summary>
    public LiftoffClient(LiftoffSettings settings)
        : this(settings, new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1) })
    {
    }

    /// <summary>A client over <paramref name="handler"/>: tests and the benchmark count what goes over the wire.</summary>
    internal LiftoffClient(LiftoffSettings settings, HttpMessageHandler handler)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        _http = new HttpClient(handler)
        {
            BaseAddress = new Uri(settings.BaseUrl.ToString().TrimEnd('/') + "/"),
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", settings.ApiKey);
        _direct = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        _retry = RetryPipeline(settings.RetryFor);
    }

    /// <summary>The server and key this client uses.</summary>
    public LiftoffSettings Settings { get; }

    /// <summary>Who the key belongs to.</summary>
    public Task<Viewer> GetViewerAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/viewer", null, LiftoffJsonContext.Default.Viewer, cancellationToken);

    /// <summary>Creates a user and its first key (admin keys only).</summary>
    public Task<CreatedUser> CreateUserAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "api/v1/users", JsonContent.Create(new CreateUserRequest(name), LiftoffJsonContext.Default.CreateUserRequest), LiftoffJsonContext.Default.CreatedUser, cancellationToken);

    /// <summary>Creates a new API key for the caller; the secret is in the answer only.</summary>
    public Task<CreatedKey> CreateKeyAsync(string? name, CancellationToken cancellationToken = default) =>
        CreateKeyAsync(new CreateKeyRequest(name), cancellationToken);

    /// <summary>Creates a new API key for the caller, agent-only when the request says so; the secret is in the answer only.</summary>
    public Task<CreatedKey> CreateKeyAsync(CreateKeyRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "api/v1/keys", JsonContent.Create(request, LiftoffJsonContext.Default.CreateKeyRequest), LiftoffJsonContext.Default.CreatedKey, cancellationToken);

    /// <summary>The caller's keys, without secrets.</summary>
    public Task<ApiKeyList> ListKeysAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/keys", null, LiftoffJsonContext.Default.ApiKeyList, cancellationToken);

    /// <summary>Revokes one of the caller's keys.</summary>
    public Task RevokeKeyAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, $"api/v1/keys/{Uri.EscapeDataString(id)}", null, cancellationToken);

    /// <summary>Creates a team with <paramref name="admin"/> (an existing user) as its first admin (the server admin only).</summary>
    public Task<TeamInfo> CreateTeamAsync(string name, string admin, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "api/v1/teams", JsonContent.Create(new CreateTeamRequest(name, admin), LiftoffJsonContext.Default.CreateTeamRequest), LiftoffJsonContext.Default.TeamInfo, cancellationToken);

    /// <summary>The caller's teams with their role in each (the server admin: every team).</summary>
    public Task<TeamList> ListTeamsAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/teams", null, LiftoffJsonContext.Default.TeamList, cancellationToken);

    /// <summary>A team and its members (its viewers and up).</summary>
    public Task<TeamInfo> GetTeamAsync(string team, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, TeamPath(team), null, LiftoffJsonContext.Default.TeamInfo, cancellationToken);

    /// <summary>Adds a user to a team, or changes their role: viewer, member or admin (the team's admins).</summary>
    public Task<TeamMember> SetTeamMemberAsync(string team, string user, string role, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, TeamPath(team) + "/members/" + Uri.EscapeDataString(user), JsonContent.Create(new SetMemberRequest(role), LiftoffJsonContext.Default.SetMemberRequest), LiftoffJsonContext.Default.TeamMember, cancellationToken);

    /// <summary>Removes a user from a team (the team's admins); a team's last admin stays.</summary>
    public Task RemoveTeamMemberAsync(string team, string user, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, TeamPath(team) + "/members/" + Uri.EscapeDataString(user), null, cancellationToken);

    /// <summary>Creates a service account of a team, acting there as <paramref name="role"/> (the team's admins).</summary>
    public Task<ServiceAccountInfo> CreateServiceAccountAsync(string team, string name, string? role = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, AccountsPath(team), JsonContent.Create(new CreateServiceAccountRequest(name, role), LiftoffJsonContext.Default.CreateServiceAccountRequest),
            LiftoffJsonContext.Default.ServiceAccountInfo, cancellationToken);

    /// <summary>A team's service accounts (the team's admins).</summary>
    public Task<ServiceAccountList> ListServiceAccountsAsync(string team, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, AccountsPath(team), null, LiftoffJsonContext.Default.ServiceAccountList, cancellationToken);

    /// <summary>Deletes a team's service account and revokes its keys (the team's admins).</summary>
    public Task DeleteServiceAccountAsync(string team, string name, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, AccountsPath(team) + "/" + Uri.EscapeDataString(name), null, cancellationToken);

    /// <summary>Creates a key for a team's service account, agent-only when the request says so; the secret is in the answer only.</summary>
    public Task<CreatedKey> CreateServiceAccountKeyAsync(string team, string name, CreateKeyRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, AccountsPath(team) + "/" + Uri.EscapeDataString(name) + "/keys", JsonContent.Create(request, LiftoffJsonContext.Default.CreateKeyRequest),
            LiftoffJsonContext.Default.CreatedKey, cancellationToken);

    /// <summary>A service account's keys, without secrets.</summary>
    public Task<ApiKeyList> ListServiceAccountKeysAsync(string team, string name, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, AccountsPath(team) + "/" + Uri.EscapeDataString(name) + "/keys", null, LiftoffJsonContext.Default.ApiKeyList, cancellationToken);

    /// <summary>Revokes a key of a service account.</summary>
    public Task RevokeServiceAccountKeyAsync(string team, string name, string id, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, AccountsPath(team) + "/" + Uri.EscapeDataString(name) + "/keys/" + Uri.EscapeDataString(id), null, cancellationToken);

    /// <summary>Creates or replaces a secret of the caller's entity; the value is never returned by any call.</summary>
    public Task<SecretInfo> SetSecretAsync(string name, string value, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, $"api/v1/secrets/{Uri.EscapeDataString(name)}", JsonContent.Create(new SetSecretRequest(value), LiftoffJsonContext.Default.SetSecretRequest), LiftoffJsonContext.Default.SecretInfo, cancellationToken);

    /// <summary>The caller's entity's secrets: names and dates.</summary>
    public Task<SecretList> ListSecretsAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/secrets", null, LiftoffJsonContext.Default.SecretList, cancellationToken);

    /// <summary>Deletes a secret of the caller's entity; launches that reference it are refused from then on.</summary>
    public Task DeleteSecretAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, $"api/v1/secrets/{Uri.EscapeDataString(name)}", null, cancellationToken);

    /// <summary>
    /// Audit log entries, newest first: the acting entity's (its admins only), or, for the server admin, every entry.
    /// Filters match exactly; <paramref name="since"/> is inclusive, <paramref name="until"/> exclusive.
    /// </summary>
    public Task<AuditList> ListAuditAsync(string? actor = null, string? action = null, string? obj = null, DateTimeOffset? since = null, DateTimeOffset? until = null,
        int? limit = null, string? cursor = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/audit" + Query(("actor", actor), ("action", action), ("object", obj),
            ("since", since?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)), ("until", until?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)),
            ("limit", limit?.ToString(CultureInfo.InvariantCulture)), ("cursor", cursor)), null, LiftoffJsonContext.Default.AuditList, cancellationToken);

    /// <summary>The caller's projects.</summary>
    public Task<ProjectList> ListProjectsAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/projects", null, LiftoffJsonContext.Default.ProjectList, cancellationToken);

    /// <summary>Starts a run (or attaches to a launched, pending one by id).</summary>
    public Task<RunInfo> InitRunAsync(InitRunRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "api/v1/runs", JsonContent.Create(request, LiftoffJsonContext.Default.InitRunRequest), LiftoffJsonContext.Default.RunInfo, cancellationToken);

    /// <summary>One page of runs, newest first.</summary>
    public Task<RunList> ListRunsAsync(string? project = null, string? state = null, int? limit = null, string? cursor = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/runs" + Query(("project", project), ("state", state), ("limit", limit?.ToString(CultureInfo.InvariantCulture)), ("cursor", cursor)), null, LiftoffJsonContext.Default.RunList, cancellationToken);

    /// <summary>One run.</summary>
    public Task<RunInfo> GetRunAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, RunPath(id), null, LiftoffJsonContext.Default.RunInfo, cancellationToken);

    /// <summary>Renames a run or merges keys into its config or summary.</summary>
    public Task<RunInfo> PatchRunAsync(string id, PatchRunRequest patch, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Patch, RunPath(id), JsonContent.Create(patch, LiftoffJsonContext.Default.PatchRunRequest), LiftoffJsonContext.Default.RunInfo, cancellationToken);

    /// <summary>Appends history rows.</summary>
    public Task<HistoryAccepted> AppendHistoryAsync(string id, IReadOnlyList<HistoryRow> rows, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, RunPath(id) + "/history", JsonContent.Create(new HistoryBatch(rows), LiftoffJsonContext.Default.HistoryBatch), LiftoffJsonContext.Default.HistoryAccepted, cancellationToken);

    /// <summary>Every history row of a run, in step order.</summary>
    public async IAsyncEnumerable<HistoryRow> ReadHistoryAsync(string id, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long? after = null;
        do
        {
            var page = await SendAsync(HttpMethod.Get, RunPath(id) + "/history" + Query(("after_step", after?.ToString(CultureInfo.InvariantCulture)), ("limit", "10000")), null, LiftoffJsonContext.Default.HistoryPage, cancellationToken);
            foreach (var row in page.Rows)
            {
                yield return row;
            }

            after = page.NextAfterStep;
        }
        while (after is not null);
    }

    /// <summary>Stores console lines numbered from <paramref name="offset"/>.</summary>
    public Task<LogsAccepted> AppendLogsAsync(string id, long offset, IReadOnlyList<LogLine> lines, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, RunPath(id) + "/logs", JsonContent.Create(new LogBatch(offset, lines), LiftoffJsonContext.Default.LogBatch), LiftoffJsonContext.Default.LogsAccepted, cancellationToken);

    /// <summary>The run's console lines; with <paramref name="follow"/>, new lines as they arrive until the run ends.</summary>
    public async IAsyncEnumerable<NumberedLogLine> ReadLogsAsync(string id, bool follow = false, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, WithEntity(RunPath(id) + "/logs" + Query(("follow", follow ? "true" : null))));
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(stream);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length > 0)
            {
                yield return JsonSerializer.Deserialize(line, LiftoffJsonContext.Default.NumberedLogLine)!;
            }
        }
    }

    /// <summary>Tells the server the run is alive; the answer says whether it should stop.</summary>
    public Task<HeartbeatReply> HeartbeatAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, RunPath(id) + "/heartbeat", null, LiftoffJsonContext.Default.HeartbeatReply, cancellationToken, idempotent: true);

    /// <summary>Ends a run with the process's exit code.</summary>
    public Task<RunInfo> FinishRunAsync(string id, int exitCode, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, RunPath(id) + "/finish", JsonContent.Create(new FinishRunRequest(exitCode), LiftoffJsonContext.Default.FinishRunRequest), LiftoffJsonContext.Default.RunInfo, cancellationToken, idempotent: true);

    /// <summary>Asks a run to stop.</summary>
    public Task<RunInfo> StopRunAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, RunPath(id) + "/stop", null, LiftoffJsonContext.Default.RunInfo, cancellationToken);

    /// <summary>Creates a queue for one target resource.</summary>
    public Task<QueueInfo> CreateQueueAsync(CreateQueueRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "api/v1/queues", JsonContent.Create(request, LiftoffJsonContext.Default.CreateQueueRequest), LiftoffJsonContext.Default.QueueInfo, cancellationToken);

    /// <summary>The caller's queues.</summary>
    public Task<QueueList> ListQueuesAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/queues", null, LiftoffJsonContext.Default.QueueList, cancellationToken);

    /// <summary>One queue with its item counts and the agents polling it.</summary>
    public Task<QueueInfo> GetQueueAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, QueuePath(name), null, LiftoffJsonContext.Default.QueueInfo, cancellationToken);

    /// <summary>Replaces a queue's settings (its name and resource stay); the entity's admins only.</summary>
    public Task<QueueInfo> EditQueueAsync(CreateQueueRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, QueuePath(request.Name), JsonContent.Create(request, LiftoffJsonContext.Default.CreateQueueRequest), LiftoffJsonContext.Default.QueueInfo, cancellationToken);

    /// <summary>Deletes a queue; refused while it has active items unless <paramref name="force"/>.</summary>
    public Task DeleteQueueAsync(string name, bool force = false, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, QueuePath(name) + Query(("force", force ? "true" : null)), null, cancellationToken);

    /// <summary>Puts a launch item on a queue. The idempotency key makes retries safe: the same key returns the same item.</summary>
    public Task<ItemInfo> EnqueueAsync(string queue, EnqueueRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, QueuePath(queue) + "/items", JsonContent.Create(request, LiftoffJsonContext.Default.EnqueueRequest), LiftoffJsonContext.Default.ItemInfo, cancellationToken,
            idempotent: request.IdempotencyKey is not null);

    /// <summary>What an enqueue would run: the merged, macro-substituted resource config and environment; nothing is enqueued.</summary>
    public Task<LaunchSpec> DryRunAsync(string queue, EnqueueRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, QueuePath(queue) + "/dry-run", JsonContent.Create(request, LiftoffJsonContext.Default.EnqueueRequest), LiftoffJsonContext.Default.LaunchSpec, cancellationToken);

    /// <summary>A queue's items, pending first in claim order, then the others newest first.</summary>
    public Task<ItemList> ListItemsAsync(string queue, string? state = null, int? limit = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, QueuePath(queue) + "/items" + Query(("state", state), ("limit", limit?.ToString(CultureInfo.InvariantCulture))), null, LiftoffJsonContext.Default.ItemList, cancellationToken);

    /// <summary>One launch item.</summary>
    public Task<ItemInfo> GetItemAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, ItemPath(id), null, LiftoffJsonContext.Default.ItemInfo, cancellationToken);

    /// <summary>The item's history: every state it entered, per attempt, with each failed attempt's class and message.</summary>
    public Task<ItemHistory> GetItemHistoryAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, ItemPath(id) + "/history", null, LiftoffJsonContext.Default.ItemHistory, cancellationToken);

    /// <summary>Cancels an item in any state: pending ones at once, claimed ones through their agent.</summary>
    public Task<ItemInfo> CancelItemAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, ItemPath(id) + "/cancel", null, LiftoffJsonContext.Default.ItemInfo, cancellationToken, idempotent: true);

    /// <summary>
    /// Hands a held item back at once (the agent stopped its workload while shutting down): it is pending again without
    /// an attempt counted, and the attempt's run ends killed. Refused (409) once another attempt or run holds the item.
    /// </summary>
    public Task<ItemInfo> ReleaseItemAsync(string id, ItemReleaseRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, ItemPath(id) + "/release", JsonContent.Create(request, LiftoffJsonContext.Default.ItemReleaseRequest), LiftoffJsonContext.Default.ItemInfo, cancellationToken, idempotent: true);

    /// <summary>Registers an agent polling the given queues.</summary>
    public Task<AgentInfo> RegisterAgentAsync(RegisterAgentRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "api/v1/agents", JsonContent.Create(request, LiftoffJsonContext.Default.RegisterAgentRequest), LiftoffJsonContext.Default.AgentInfo, cancellationToken);

    /// <summary>The caller's agents.</summary>
    public Task<AgentList> ListAgentsAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/agents", null, LiftoffJsonContext.Default.AgentList, cancellationToken);

    /// <summary>Tells the server the agent is alive; the answer says whether an operator asked it to stop claiming.</summary>
    public Task<AgentHeartbeatReply> AgentHeartbeatAsync(string agentId, AgentHeartbeatRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, AgentPath(agentId) + "/heartbeat", JsonContent.Create(request, LiftoffJsonContext.Default.AgentHeartbeatRequest), LiftoffJsonContext.Default.AgentHeartbeatReply, cancellationToken, idempotent: true);

    /// <summary>Asks an agent to stop claiming (it finishes what it runs).</summary>
    public Task<AgentInfo> StopAgentAsync(string agentId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, AgentPath(agentId) + "/stop", null, LiftoffJsonContext.Default.AgentInfo, cancellationToken);

    /// <summary>Long poll for work: a claim with its lease, or null when nothing came within the wait.</summary>
    public async Task<Claim?> ClaimAsync(string agentId, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        using var response = await SendRawAsync(HttpMethod.Post, AgentPath(agentId) + "/claim", JsonContent.Create(new ClaimRequest(wait.TotalSeconds), LiftoffJsonContext.Default.ClaimRequest), cancellationToken);
        return response.StatusCode == HttpStatusCode.NoContent ? null : await response.Content.ReadFromJsonAsync(LiftoffJsonContext.Default.Claim, cancellationToken);
    }

    /// <summary>Renews the lease on an item; a 409 means another attempt owns it now.</summary>
    public Task<ItemHeartbeatReply> ItemHeartbeatAsync(string itemId, int attempt, CancellationToken cancellationToken = default) =>
        ItemHeartbeatAsync(itemId, new ItemHeartbeatRequest(attempt), cancellationToken);

    /// <summary>Renews the lease on an item, with why its workload waits (null: it does not).</summary>
    public Task<ItemHeartbeatReply> ItemHeartbeatAsync(string itemId, ItemHeartbeatRequest heartbeat, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, ItemPath(itemId) + "/heartbeat", JsonContent.Create(heartbeat, LiftoffJsonContext.Default.ItemHeartbeatRequest), LiftoffJsonContext.Default.ItemHeartbeatReply, cancellationToken, idempotent: true);

    /// <summary>
    /// Reports an item's progress (starting, running, finished, failed, cancelled) under its fencing token. The same
    /// report twice changes nothing the second time, so it is resent after a lost answer.
    /// </summary>
    public Task<ItemInfo> ReportItemAsync(string itemId, ItemProgressRequest progress, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, ItemPath(itemId) + "/progress", JsonContent.Create(progress, LiftoffJsonContext.Default.ItemProgressRequest), LiftoffJsonContext.Default.ItemInfo, cancellationToken, idempotent: true);
    /// <summary>Step 1 of an upload: which of the manifest's blobs the server lacks for the caller.</summary>
    public Task<BlobCheckReply> CheckBlobsAsync(IReadOnlyList<ManifestEntry> files, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "api/v1/blobs/check", JsonContent.Create(new BlobCheckRequest(files), LiftoffJsonContext.Default.BlobCheckRequest), LiftoffJsonContext.Default.BlobCheckReply, cancellationToken);

    /// <summary>Step 2: streams one blob of <paramref name="size"/> bytes; the server checks it hashes to <paramref name="sha256"/>.</summary>
    public async Task PutBlobAsync(string sha256, Stream content, long size, CancellationToken cancellationToken = default)
    {
        var body = new StreamContent(content, 1 << 20);
        body.Headers.ContentLength = size;
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        await SendAsync(HttpMethod.Put, $"api/v1/blobs/{Uri.EscapeDataString(sha256)}", body, cancellationToken);
    }

    /// <summary>Step 2a: how to send each of up to 1,000 missing blobs (through the server, or in parts straight to the bucket).</summary>
    public Task<BlobUploadReply> PlanBlobUploadsAsync(IReadOnlyList<BlobUploadEntry> blobs, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "api/v1/blobs/uploads", JsonContent.Create(new BlobUploadRequest(blobs), LiftoffJsonContext.Default.BlobUploadRequest), LiftoffJsonContext.Default.BlobUploadReply, cancellationToken);

    /// <summary>Sends one part of a direct upload to its presigned URL (no Liftoff key goes with it); returns the ETag the bucket answered.</summary>
    public async Task<string> PutBlobPartAsync(BlobUploadPart part, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(part);
        using var body = new StreamContent(content, 1 << 20);
        body.Headers.ContentLength = part.Size;
        using var request = new HttpRequestMessage(HttpMethod.Put, part.Url) { Content = body };
        HttpResponseMessage response;
        try
        {
            response = await _direct.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new LiftoffException($"cannot reach the blob store at {new Uri(part.Url).GetLeftPart(UriPartial.Authority)}: {ex.Message}", ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                throw new LiftoffException($"the blob store refused part {part.Number} ({(int)response.StatusCode}): {text[..Math.Min(text.Length, 500)]}", response.StatusCode);
            }

            return response.Headers.ETag?.Tag ?? throw new LiftoffException($"the blob store answered part {part.Number} without an ETag");
        }
    }

    /// <summary>Step 2b of a direct upload: the server checks the blob's size and SHA-256 in the bucket and records it.</summary>
    public Task CompleteBlobUploadAsync(string sha256, BlobCompleteRequest upload, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"api/v1/blobs/{Uri.EscapeDataString(sha256)}/complete", JsonContent.Create(upload, LiftoffJsonContext.Default.BlobCompleteRequest), cancellationToken);

    /// <summary>A blob's bytes as a stream (from the bucket itself, by redirect, on an S3 store); dispose it when done.</summary>
    public async Task<Stream> OpenBlobAsync(string sha256, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, WithEntity($"api/v1/blobs/{Uri.EscapeDataString(sha256)}"));
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new LiftoffException($"cannot reach the Liftoff server at {Settings.BaseUrl}: {ex.Message}", ex);
        }

        try
        {
            await EnsureSuccessAsync(response, cancellationToken);
            return new ResponseStream(response, await response.Content.ReadAsStreamAsync(cancellationToken));
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>Step 3: commits a version whose blobs are all on the server.</summary>
    public Task<ArtifactVersionInfo> CommitArtifactAsync(string project, string name, CommitArtifactRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, ArtifactPath(project, name), JsonContent.Create(request, LiftoffJsonContext.Default.CommitArtifactRequest), LiftoffJsonContext.Default.ArtifactVersionInfo, cancellationToken);

    /// <summary>One version (by vK or alias), with its files.</summary>
    public Task<ArtifactVersionInfo> GetArtifactVersionAsync(string project, string name, string reference, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, ArtifactPath(project, name) + "/" + Uri.EscapeDataString(reference), null, LiftoffJsonContext.Default.ArtifactVersionInfo, cancellationToken);

    /// <summary>The versions of an artifact, newest first.</summary>
    public Task<ArtifactVersionList> ListArtifactVersionsAsync(string project, string name, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, ArtifactPath(project, name), null, LiftoffJsonContext.Default.ArtifactVersionList, cancellationToken);

    /// <summary>The caller's artifacts, optionally of one project or type.</summary>
    public Task<ArtifactList> ListArtifactsAsync(string? project = null, string? type = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/artifacts" + Query(("project", project), ("type", type)), null, LiftoffJsonContext.Default.ArtifactList, cancellationToken);

    /// <summary>Points an alias at a version (vK).</summary>
    public Task<ArtifactVersionInfo> SetArtifactAliasAsync(string project, string name, string alias, string version, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, ArtifactPath(project, name) + "/aliases/" + Uri.EscapeDataString(alias), JsonContent.Create(new SetAliasRequest(version), LiftoffJsonContext.Default.SetAliasRequest), LiftoffJsonContext.Default.ArtifactVersionInfo, cancellationToken);

    /// <summary>Records that a run used an artifact version (<c>name:alias</c> or <c>name:vK</c>); returns it with its files.</summary>
    public Task<ArtifactVersionInfo> UseArtifactAsync(string runId, string artifact, string? project = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, RunPath(runId) + "/artifacts/used", JsonContent.Create(new UseArtifactRequest(artifact, project), LiftoffJsonContext.Default.UseArtifactRequest), LiftoffJsonContext.Default.ArtifactVersionInfo, cancellationToken);

    /// <summary>The artifact versions a run used and produced.</summary>
    public Task<RunArtifacts> ListRunArtifactsAsync(string runId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, RunPath(runId) + "/artifacts", null, LiftoffJsonContext.Default.RunArtifacts, cancellationToken);

    /// <summary>
    /// Uploads a directory (or one file) as a new artifact version: hashes every file, sends only the blobs the server
    /// lacks, then commits. Symbolic links that lead outside <paramref name="path"/> are refused.
    /// </summary>
    public Task<ArtifactVersionInfo> UploadArtifactAsync(string path, string project, string name, ArtifactUploadOptions options, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        ArtifactFiles.UploadAsync(this, path, project, name, options, progress, cancellationToken);

    /// <summary>Downloads a version's files (from <see cref="GetArtifactVersionAsync"/>) into <paramref name="directory"/>, checking every digest; returns the directory.</summary>
    public Task<string> DownloadArtifactAsync(ArtifactVersionInfo version, string directory, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        ArtifactFiles.DownloadAsync(this, version, directory, progress, cancellationToken);

    /// <summary>Creates a job version (or returns the existing version with the same definition).</summary>
    public Task<JobVersionInfo> CreateJobAsync(CreateJobRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "api/v1/jobs", JsonContent.Create(request, LiftoffJsonContext.Default.CreateJobRequest), LiftoffJsonContext.Default.JobVersionInfo, cancellationToken);

    /// <summary>The caller's jobs, optionally of one project.</summary>
    public Task<JobList> ListJobsAsync(string? project = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "api/v1/jobs" + Query(("project", project)), null, LiftoffJsonContext.Default.JobList, cancellationToken);

    /// <summary>A job's versions and aliases, and the definition of one version (default latest).</summary>
    public Task<JobInfo> DescribeJobAsync(string project, string name, string? reference = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, $"api/v1/jobs/{Uri.EscapeDataString(project)}/{Uri.EscapeDataString(name)}" + Query(("ref", reference)), null, LiftoffJsonContext.Default.JobInfo, cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        _direct.Dispose();
        _http.Dispose();
    }

    private static string TeamPath(string name) => $"api/v1/teams/{Uri.EscapeDataString(name)}";

    private static string AccountsPath(string team) => TeamPath(team) + "/service-accounts";

    private static string RunPath(string id) => $"api/v1/runs/{Uri.EscapeDataString(id)}";

    private static string QueuePath(string name) => $"api/v1/queues/{Uri.EscapeDataString(name)}";

    private static string ItemPath(string id) => $"api/v1/items/{Uri.EscapeDataString(id)}";

    private static string AgentPath(string id) => $"api/v1/agents/{Uri.EscapeDataString(id)}";
    private static string ArtifactPath(string project, string name) => $"api/v1/artifacts/{Uri.EscapeDataString(project)}/{Uri.EscapeDataString(name)}";

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var present = parameters.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToList();
        return present.Count == 0 ? "" : "?" + string.Join('&', present);
    }

    /// <summary>
    /// Names <see cref="LiftoffSettings.Entity"/> on the request. The server reads it where a request acts on an entity's
    /// things and ignores it where the request is about the caller (keys, teams list) or names its team in the path.
    /// </summary>
    private string WithEntity(string path) => Settings.Entity is not { } entity
        ? path
        : path + (path.Contains('?', StringComparison.Ordinal) ? '&' : '?') + "entity=" + Uri.EscapeDataString(entity);

    private async Task<T> SendAsync<T>(HttpMethod method, string path, HttpContent? content, JsonTypeInfo<T> type, CancellationToken cancellationToken, bool idempotent = false)
    {
        using var response = await SendRawAsync(method, path, content, cancellationToken, idempotent);
        return (await response.Content.ReadFromJsonAsync(type, cancellationToken))!;
    }

    private async Task SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(method, path, content, cancellationToken);
    }

    /// <summary>
    /// Sends one request through <see cref="_retry"/>, and turns what came back into a response or a
    /// <see cref="LiftoffException"/>. A stream body (an upload) is read once, so only JSON bodies, serialized again for
    /// each attempt, are ever sent twice. The body is disposed once the request is done with.
    /// </summary>
    private async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken, bool idempotent = false)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(Resendable, content is null or JsonContent);
        context.Properties.Set(Idempotent, idempotent || method == HttpMethod.Get || method == HttpMethod.Put || method == HttpMethod.Delete || method == HttpMethod.Head);
        context.Properties.Set(GiveUpAt, Environment.TickCount64 + (long)Settings.RetryFor.TotalMilliseconds);
        HttpResponseMessage response;
        try
        {
            response = await _retry.ExecuteAsync(
                static (context, state) => new ValueTask<HttpResponseMessage>(state.Http.SendAsync(new HttpRequestMessage(state.Method, state.Path) { Content = state.Content }, context.CancellationToken)),
                context,
                (Http: _http, Method: method, Path: WithEntity(path), Content: content));
        }
        catch (HttpRequestException ex)
        {
            throw new LiftoffException($"cannot reach the Liftoff server at {Settings.BaseUrl}: {ex.Message}", ex);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
            content?.Dispose();
        }

        try
        {
            await EnsureSuccessAsync(response, cancellationToken);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The one retry policy of every API call: resend within <see cref="LiftoffSettings.RetryFor"/> what is safe to send
    /// again. Always when the request certainly did not reach a server (no connection, or a balancer's 503 for no
    /// server available, or a 429); after a failure that may have reached one (a 502 or 504, a dropped connection)
    /// only when it is idempotent: a read, a PUT or DELETE, or a write the server treats as such (an idempotency key,
    /// a fenced report). Waits 50 ms doubling to 2 s, jittered so that many clients do not return at once.
    /// </summary>
    private static ResiliencePipeline<HttpResponseMessage> RetryPipeline(TimeSpan retryFor) => retryFor <= TimeSpan.Zero
        ? ResiliencePipeline<HttpResponseMessage>.Empty
        : new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Context, args.Outcome)),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(50),
                MaxDelay = TimeSpan.FromSeconds(2),
            })
            .Build();

    private static bool ShouldRetry(ResilienceContext context, Outcome<HttpResponseMessage> outcome)
    {
        if (!context.Properties.GetValue(Resendable, false) || Environment.TickCount64 >= context.Properties.GetValue(GiveUpAt, 0L))
        {
            return false;
        }

        var idempotent = context.Properties.GetValue(Idempotent, false);
        return outcome switch
        {
            { Exception: HttpRequestException ex } => idempotent || ex.HttpRequestError == HttpRequestError.ConnectionError,
            { Result.StatusCode: HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests } => true,
            { Result.StatusCode: HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout } => idempotent,
            _ => false,
        };
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        var (message, type) = Problem(response.StatusCode, body);
        throw new LiftoffException(message, response.StatusCode, type);
    }

    /// <summary>The problem's detail (or title), else the status line; and its type when it is one of ours (a URI, not "about:blank" or an RFC link).</summary>
    private static (string Message, string? Type) Problem(HttpStatusCode status, string body)
    {
        try
        {
            using var problem = JsonDocument.Parse(body);
            var root = problem.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                var type = root.TryGetProperty("type", out var typeValue) && typeValue.ValueKind == JsonValueKind.String
                    && typeValue.GetString() is { } text && text.StartsWith(ProblemTypes.Base, StringComparison.Ordinal) ? text : null;
                if (root.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String)
                {
                    return (detail.GetString()!, type);
                }

                if (root.TryGetProperty("title", out var title) && title.ValueKind == JsonValueKind.String)
                {
                    return (title.GetString()!, type);
                }
            }
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's page, say): fall back to the status line.
        }

        return ($"the server answered {(int)status} {status}", null);
    }
}

/// <summary>A response body that disposes its response with it.</summary>
internal sealed class ResponseStream(HttpResponseMessage response, Stream inner) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => response.Content.Headers.ContentLength ?? throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            response.Dispose();
        }

        base.Dispose(disposing);
    }
}
