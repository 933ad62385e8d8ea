using System.Text.Json;

namespace Liftoff.Contracts;

/// <summary>The serializer options every Liftoff component uses on the wire.</summary>
public static class LiftoffJson
{
    public static JsonSerializerOptions Options => LiftoffJsonContext.Default.Options;

    /// <summary>Makes framework-owned options (ASP.NET's HTTP JSON options) match the wire format.</summary>
    public static void Apply(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.RespectNullableAnnotations = true;
        options.RespectRequiredConstructorParameters = true;
        options.TypeInfoResolverChain.Insert(0, LiftoffJsonContext.Default);
    }
}
