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
[JsonSerializable(typeof(BlobCheckRequest))]
[JsonSerializable(typeof(BlobCheckReply))]
[JsonSerializable(typeof(CommitArtifactRequest))]
[JsonSerializable(typeof(ArtifactVersionInfo))]
[JsonSerializable(typeof(ArtifactList))]
[JsonSerializable(typeof(ArtifactVersionList))]
[JsonSerializable(typeof(SetAliasRequest))]
[JsonSerializable(typeof(UseArtifactRequest))]
[JsonSerializable(typeof(RunArtifacts))]
[JsonSerializable(typeof(JobDefinition))]
[JsonSerializable(typeof(CreateJobRequest))]
[JsonSerializable(typeof(JobVersionInfo))]
[JsonSerializable(typeof(JobInfo))]
[JsonSerializable(typeof(JobList))]
[JsonSerializable(typeof(System.Text.Json.Nodes.JsonObject))]
public sealed partial class LiftoffJsonContext : JsonSerializerContext;
