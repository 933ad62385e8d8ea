using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s.Models;
using Liftoff.Targets.Kubernetes;
using Liftoff.Testing;
using Liftoff.Testing.Kubernetes;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace Liftoff.Agent.Tests;

/// <summary>
/// The Kubernetes manifests in deploy/kubernetes, checked against the Kubernetes definitions twice, as the Kubernetes
/// stand-in checks what the runner sends: the KubernetesClient models (types and unknown fields, as a server with
/// fieldValidation=Strict refuses them) and kubernetes-models (required fields, enums, formats). The agent's Role is
/// held equal to the permissions docs/kubernetes.md lists.
/// </summary>
public sealed partial class DeployManifestTests
{
    private static readonly Dictionary<string, Type> Definitions = new(StringComparer.Ordinal)
    {
        ["ConfigMap"] = typeof(V1ConfigMap),
        ["Deployment"] = typeof(V1Deployment),
        ["PersistentVolumeClaim"] = typeof(V1PersistentVolumeClaim),
        ["Role"] = typeof(V1Role),
        ["RoleBinding"] = typeof(V1RoleBinding),
        ["Service"] = typeof(V1Service),
        ["ServiceAccount"] = typeof(V1ServiceAccount),
    };

    [Fact]
    public async Task EveryManifest_ConformsToTheKubernetesDefinitions()
    {
        var objects = Manifests();
        await using var models = KubernetesModels.Start();

        var errors = new List<string>();
        foreach (var (file, value) in objects)
        {
            errors.AddRange((await CheckAsync(models, value)).Select(e => $"{file} {value["kind"]} {value["metadata"]?["name"]}: {e.Field}: {e.Message}"));
        }

        Assert.Empty(errors);
        Assert.Equal(
            ["agent.yaml ConfigMap liftoff-agent", "agent.yaml Deployment liftoff-agent", "agent.yaml Role liftoff-agent", "agent.yaml RoleBinding liftoff-agent",
             "agent.yaml ServiceAccount liftoff-agent", "server.yaml Deployment liftoff-server", "server.yaml PersistentVolumeClaim liftoff-data", "server.yaml Service liftoff"],
            objects.Select(o => $"{o.File} {o.Value["kind"]} {o.Value["metadata"]!["name"]}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task TheChecks_RefuseAManifestWithAWrongTypeAMisspelledFieldOrAMissingName()
    {
        var deployment = Manifests().Single(o => o.Value["kind"]!.GetValue<string>() == "Deployment" && o.File == "server.yaml").Value;
        var container = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!.AsObject();
        deployment["spec"]!["replicas"] = "one";
        container["imagePullPolcy"] = "Always";
        container.Remove("name");
        await using var models = KubernetesModels.Start();

        var errors = (await CheckAsync(models, deployment)).Select(e => e.Field).ToList();

        Assert.Contains(errors, f => f.EndsWith("spec.replicas", StringComparison.Ordinal));
        Assert.Contains(errors, f => f.EndsWith("imagePullPolcy", StringComparison.Ordinal));
        Assert.Contains(errors, f => f.Contains("containers[0]", StringComparison.Ordinal) && !f.EndsWith("imagePullPolcy", StringComparison.Ordinal));
    }

    [Fact]
    public void AgentRole_GrantsExactlyThePermissionsDocsKubernetesLists_ToTheAgentsServiceAccount()
    {
        var agent = Manifests().Where(o => o.File == "agent.yaml").Select(o => o.Value).ToList();
        JsonObject Of(string kind) => agent.Single(o => o["kind"]!.GetValue<string>() == kind);

        var granted = Of("Role")["rules"]!.AsArray()
            .SelectMany(rule => from g in rule!["apiGroups"]!.AsArray()
                                from r in rule["resources"]!.AsArray()
                                from v in rule["verbs"]!.AsArray()
                                select $"{g}/{r}: {v}")
            .Order(StringComparer.Ordinal);

        Assert.Equal(DocumentedPermissions().Order(StringComparer.Ordinal), granted);
        var binding = Of("RoleBinding");
        Assert.Equal("Role", binding["roleRef"]!["kind"]!.GetValue<string>());
        Assert.Equal(Of("Role")["metadata"]!["name"]!.GetValue<string>(), binding["roleRef"]!["name"]!.GetValue<string>());
        var account = Of("ServiceAccount")["metadata"]!["name"]!.GetValue<string>();
        Assert.Equal($"ServiceAccount {account}", string.Join(",", binding["subjects"]!.AsArray().Select(s => $"{s!["kind"]} {s["name"]}")));
        Assert.Equal(account, Of("Deployment")["spec"]!["template"]!["spec"]!["serviceAccountName"]!.GetValue<string>());
    }

    private static async Task<List<Liftoff.Core.FieldError>> CheckAsync(KubernetesModels models, JsonObject value)
    {
        var kind = value["kind"]!.GetValue<string>();
        var errors = OpenApiDefinitions.Kubernetes.Check(Definitions[kind], value, "").Select(e => e with { Field = e.Field.TrimStart('.') }).ToList();
        errors.AddRange(await models.CheckAsync(kind, value));
        return errors;
    }

    /// <summary>docs/kubernetes.md's table of the agent's permissions, as <c>group/resource: verb</c> (the core group, `""`, is empty).</summary>
    private static IEnumerable<string> DocumentedPermissions()
    {
        var doc = File.ReadAllText(Path.Combine(Repo.Root, "docs", "kubernetes.md"));
        var table = doc[doc.IndexOf("| API group | resource | verbs |", StringComparison.Ordinal)..].Split('\n').Skip(2).TakeWhile(l => l.StartsWith('|'));
        foreach (var row in table)
        {
            var cells = row.Trim('|').Split('|').Select(c => Code().Matches(c).Select(m => m.Groups[1].Value).ToList()).ToList();
            var group = cells[0].Single().Trim('"');
            foreach (var verb in cells[2])
            {
                yield return $"{group}/{cells[1].Single()}: {verb}";
            }
        }
    }

    private static List<(string File, JsonObject Value)> Manifests()
    {
        var objects = new List<(string, JsonObject)>();
        foreach (var path in Directory.EnumerateFiles(Path.Combine(Repo.Root, "deploy", "kubernetes"), "*.yaml").Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(path))
            {
                stream.Load(reader);
            }

            objects.AddRange(stream.Documents.Select(d => (Path.GetFileName(path), Json(d.RootNode).AsObject())));
        }

        return objects;
    }

    /// <summary>YAML read as kubectl reads it: plain scalars typed by the core schema (8 a number, true a boolean), quoted ones strings.</summary>
    private static JsonNode Json(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(p => KeyValuePair.Create(((YamlScalarNode)p.Key).Value!, (JsonNode?)Json(p.Value)))),
        YamlSequenceNode list => new JsonArray([.. list.Children.Select(Json)]),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: var text } when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: "true" or "false" } scalar => JsonValue.Create(scalar.Value == "true"),
        YamlScalarNode scalar => JsonValue.Create(scalar.Value ?? ""),
        _ => throw new InvalidOperationException($"unexpected YAML node {node.NodeType}"),
    };

    [GeneratedRegex("`([^`]*)`")]
    private static partial Regex Code();
}
