using System.Text.Json.Serialization;

namespace Liftoff.Contracts;

/// <summary>The one place the wire format is set: snake_case names, source-generated serializers.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(Viewer))]
[JsonSerializable(typeof(CreateUserRequest))]
[JsonSerializable(typeof(CreateKeyRequest))]
[JsonSerializable(typeof(CreatedKey))]
[JsonSerializable(typeof(CreatedUser))]
[JsonSerializable(typeof(ApiKeyList))]
[JsonSerializable(typeof(InitRunRequest))]
[JsonSerializable(typeof(RunInfo))]
[JsonSerializable(typeof(RunList))]
[JsonSerializable(typeof(PatchRunRequest))]
[JsonSerializable(typeof(HistoryBatch))]
[JsonSerializable(typeof(HistoryAccepted))]
[JsonSerializable(typeof(HistoryPage))]
[JsonSerializable(typeof(LogBatch))]
[JsonSerializable(typeof(LogsAccepted))]
[JsonSerializable(typeof(NumberedLogLine))]
[JsonSerializable(typeof(HeartbeatReply))]
[JsonSerializable(typeof(FinishRunRequest))]
[JsonSerializable(typeof(ProjectList))]
[JsonSerializable(typeof(CreateQueueRequest))]
[JsonSerializable(typeof(QueueInfo))]
[JsonSerializable(typeof(QueueList))]
[JsonSerializable(typeof(EnqueueRequest))]
[JsonSerializable(typeof(ItemInfo))]
[JsonSerializable(typeof(ItemList))]
[JsonSerializable(typeof(LaunchSpec))]
[JsonSerializable(typeof(RegisterAgentRequest))]
[JsonSerializable(typeof(AgentInfo))]
[JsonSerializable(typeof(AgentList))]
[JsonSerializable(typeof(AgentHeartbeatRequest))]
[JsonSerializable(typeof(AgentHeartbeatReply))]
[JsonSerializable(typeof(ClaimRequest))]
[JsonSerializable(typeof(Claim))]
[JsonSerializable(typeof(ItemHeartbeatRequest))]
[JsonSerializable(typeof(ItemHeartbeatReply))]
[JsonSerializable(typeof(ItemProgressRequest))]
[JsonSerializable(typeof(IReadOnlyList<TemplateVariable>))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
public sealed partial class LiftoffJsonContext : JsonSerializerContext;
