using System.Text;
using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core.Artifacts;

namespace Liftoff.Server.Storage.Relational;

internal sealed partial class RelationalStore : IArtifactStore
{
    /// <summary>
    /// The version number 'latest' names in collection <c>c</c>: the newest, unless the owner pointed it back at an
    /// earlier one (an alias row named latest, which the next new version drops).
    /// </summary>
    private const string LatestOfCollection = $"""
        COALESCE((SELECT lv.version FROM artifact_aliases la JOIN artifact_versions lv ON lv.id = la.version_id WHERE la.collection_id = c.id AND la.alias = '{ArtifactRefs.Latest}'),
            (SELECT MAX(l.version) FROM artifact_versions l WHERE l.collection_id = c.id))
        """;

    private string VersionColumns => $"""
        v.id, e.name, p.name, c.name, c.type, v.version, v.digest, v.size, v.file_count, v.metadata, r.id, v.created_at,
        {LatestOfCollection},
        {database.JsonArrayOf("a.alias", $"artifact_aliases a WHERE a.version_id = v.id AND a.alias <> '{ArtifactRefs.Latest}'")}
        FROM artifact_versions v JOIN artifact_collections c ON c.id = v.collection_id JOIN projects p ON p.id = c.project_id
        JOIN entities e ON e.id = p.entity_id LEFT JOIN runs r ON r.seq = v.created_by_run_seq
        """;

    public Task AddBlobAsync(long entityId, string digest, long size, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(session => session.ExecuteAsync([
            new Sql("INSERT INTO blobs (digest, size, created_at) VALUES (@d, @size, @at) ON CONFLICT DO NOTHING", ("@d", digest), ("@size", size), ("@at", at)),
            new Sql("INSERT INTO entity_blobs (entity_id, digest) VALUES (@e, @d) ON CONFLICT DO NOTHING", ("@e", entityId), ("@d", digest)),
        ], cancellationToken), cancellationToken);

    public Task<IReadOnlyDictionary<string, long>> FindBlobsAsync(long entityId, IReadOnlyCollection<string> digests, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyDictionary<string, long>>(async session =>
        {
            List<(string Digest, long Size)> found = digests.Count == 0 ? [] : await session.ListAsync(
                $"SELECT b.digest, b.size FROM entity_blobs eb JOIN blobs b ON b.digest = eb.digest WHERE eb.entity_id = @e AND eb.digest {database.AnyOf("@d")}",
                r => (Digest: r.String(0), Size: r.Long(1)), cancellationToken, ("@e", entityId), ("@d", digests.Distinct(StringComparer.Ordinal).ToArray()));
            return found.ToDictionary(b => b.Digest, b => b.Size, StringComparer.Ordinal);
        }, cancellationToken);

    public Task<ArtifactCommit> CommitVersionAsync(long entityId, NewArtifactVersion version, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            long? runSeq = null;
            if (version.RunId is not null)
            {
                runSeq = await RunSeqAsync(session, entityId, version.RunId, cancellationToken)
                    ?? throw new StoreValidationException("run_id", $"run '{version.RunId}' not found");
            }

            var collectionId = await LockCollectionAsync(session, entityId, version, cancellationToken);
            var versionId = await session.ScalarAsync("SELECT id FROM artifact_versions WHERE collection_id = @c AND digest = @d",
                cancellationToken, ("@c", collectionId), ("@d", version.Digest)) as long?;
            var created = versionId is null;
            versionId ??= await InsertVersionAsync(session, entityId, collectionId, runSeq, version, cancellationToken);
            var aliases = version.Aliases.Distinct(StringComparer.Ordinal).ToArray();
            if (version.AliasOwnVersionOnly && aliases.Length > 0)
            {
                await DemandOwnAliasesAsync(session, collectionId, versionId.Value, runSeq, aliases, cancellationToken);
            }

            await session.ExecuteAsync([
                .. created ? new[] { new Sql($"DELETE FROM artifact_aliases WHERE collection_id = @c AND alias = '{ArtifactRefs.Latest}'", ("@c", collectionId)) } : [],
                .. aliases.Length == 0 ? [] : new[]
                {
                    Sql.InsertRows("artifact_aliases", [("collection_id", collectionId), ("version_id", versionId)], [("alias", aliases)],
                        "ON CONFLICT (collection_id, alias) DO UPDATE SET version_id = excluded.version_id"),
                },
                .. runSeq is null ? [] : new[] { RunArtifactInsert(runSeq.Value, versionId.Value, "produced", version.CreatedAt) },
            ], cancellationToken);
            var stored = await ReadVersionsAsync(session, "WHERE v.id = @v", cancellationToken, ("@v", versionId));
            return new ArtifactCommit(stored[0].Version, created);
        }, cancellationToken);

    public Task<ArtifactVersionRecord?> GetVersionAsync(long entityId, string project, string name, string reference, CancellationToken cancellationToken) =>
        database.ReadAsync(async session =>
        {
            if (await FindVersionAsync(session, entityId, project, name, reference, cancellationToken) is not { } found)
            {
                return null;
            }

            var files = await session.ListAsync("SELECT path, size, digest FROM artifact_files WHERE version_id = @v ORDER BY path",
                r => new ManifestEntry(r.String(0), r.Long(1), r.String(2)), cancellationToken, ("@v", found.Id));
            return found.Version with { Files = files };
        }, cancellationToken);

    public Task<IReadOnlyList<ArtifactCollectionRecord>> ListCollectionsAsync(long entityId, string? project, string? type, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ArtifactCollectionRecord>>(async session =>
        {
            var parameters = new List<(string, object?)> { ("@e", entityId) };
            var where = "WHERE p.entity_id = @e";
            if (project is not null)
            {
                where += " AND p.name = @p";
                parameters.Add(("@p", project));
            }

            if (type is not null)
            {
                where += " AND c.type = @t";
                parameters.Add(("@t", type));
            }

            return await session.ListAsync($"""
                SELECT e.name, p.name, c.name, c.type, c.created_at,
                    (SELECT COUNT(*) FROM artifact_versions v WHERE v.collection_id = c.id),
                    {LatestOfCollection}
                FROM artifact_collections c JOIN projects p ON p.id = c.project_id JOIN entities e ON e.id = p.entity_id
                {where} ORDER BY p.name, c.name
                """, r => new ArtifactCollectionRecord(r.String(0), r.String(1), r.String(2), r.String(3), (int)r.Long(5), r.NullableInt(6), r.Time(4)),
                cancellationToken, [.. parameters]);
        }, cancellationToken);

    public Task<IReadOnlyList<ArtifactVersionRecord>?> ListVersionsAsync(long entityId, string project, string name, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ArtifactVersionRecord>?>(async session =>
        {
            const string where = "WHERE p.entity_id = @e AND p.name = @p AND c.name = @n";
            (string, object?)[] parameters = [("@e", entityId), ("@p", project), ("@n", name)];
            var versions = await ReadVersionsAsync(session, where + " ORDER BY v.version DESC", cancellationToken, parameters);
            if (versions.Count > 0)
            {
                return [.. versions.Select(v => v.Version)];
            }

            var exists = await session.ScalarAsync("SELECT 1 FROM artifact_collections c JOIN projects p ON p.id = c.project_id " + where, cancellationToken, parameters);
            return exists is null ? null : [];
        }, cancellationToken);

    public Task<ArtifactVersionRecord?> SetAliasAsync(long entityId, string project, string name, string alias, int version, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            var target = await session.ListAsync("""
                SELECT v.id, c.id FROM artifact_versions v JOIN artifact_collections c ON c.id = v.collection_id JOIN projects p ON p.id = c.project_id
                WHERE p.entity_id = @e AND p.name = @p AND c.name = @n AND v.version = @k
                """, r => (VersionId: r.Long(0), CollectionId: r.Long(1)), cancellationToken, ("@e", entityId), ("@p", project), ("@n", name), ("@k", version));
            if (target.Count == 0)
            {
                return null;
            }

            var (versionId, collectionId) = target[0];
            await session.ExecuteAsync(
                "INSERT INTO artifact_aliases (collection_id, alias, version_id) VALUES (@c, @a, @v) ON CONFLICT (collection_id, alias) DO UPDATE SET version_id = excluded.version_id",
                cancellationToken, ("@c", collectionId), ("@a", alias), ("@v", versionId));
            return (await ReadVersionsAsync(session, "WHERE v.id = @v", cancellationToken, ("@v", versionId)))[0].Version;
        }, cancellationToken);

    public Task<ArtifactVersionRecord?> RecordUseAsync(long entityId, string runId, string project, string name, string reference, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            if (await RunSeqAsync(session, entityId, runId, cancellationToken) is not { } runSeq
                || await FindVersionAsync(session, entityId, project, name, reference, cancellationToken) is not { } found)
            {
                return null;
            }

            await session.ExecuteAsync([RunArtifactInsert(runSeq, found.Id, "used", at)], cancellationToken);
            return found.Version;
        }, cancellationToken);

    public Task<RunArtifactRecords?> ListRunArtifactsAsync(long entityId, string runId, CancellationToken cancellationToken) =>
        database.ReadAsync(async session =>
        {
            if (await RunSeqAsync(session, entityId, runId, cancellationToken) is not { } runSeq)
            {
                return null;
            }

            const string where = "JOIN run_artifacts ra ON ra.version_id = v.id WHERE ra.run_seq = @r AND ra.role = @role ORDER BY ra.created_at, v.id";
            var used = await ReadVersionsAsync(session, where, cancellationToken, ("@r", runSeq), ("@role", "used"));
            var produced = await ReadVersionsAsync(session, where, cancellationToken, ("@r", runSeq), ("@role", "produced"));
            return (RunArtifactRecords?)new RunArtifactRecords([.. used.Select(v => v.Version)], [.. produced.Select(v => v.Version)]);
        }, cancellationToken);

    /// <summary>
    /// A run's key may alias only a version its run produced, and may not take an alias away from a version its run
    /// did not produce (moving 'prod' off the owner's version is as bad as moving it onto one).
    /// </summary>
    private async Task DemandOwnAliasesAsync(DbSession session, long collectionId, long versionId, long? runSeq, string[] aliases, CancellationToken cancellationToken)
    {
        var producer = (await session.ListAsync("SELECT created_by_run_seq, version FROM artifact_versions WHERE id = @v",
            r => (Run: r.NullableLong(0), Number: r.Int(1)), cancellationToken, ("@v", versionId)))[0];
        if (producer.Run is null || producer.Run != runSeq)
        {
            throw new ForbiddenException($"these files are already version v{producer.Number}, which this run did not produce; a run's key sets aliases only on versions its run produced");
        }

        var taken = await session.ListAsync($"""
            SELECT a.alias, v.version FROM artifact_aliases a JOIN artifact_versions v ON v.id = a.version_id
            WHERE a.collection_id = @c AND a.alias {database.AnyOf("@a")} AND a.version_id <> @v AND (v.created_by_run_seq IS NULL OR v.created_by_run_seq <> @r)
            """, r => (Alias: r.String(0), Number: r.Int(1)), cancellationToken, ("@c", collectionId), ("@a", aliases), ("@v", versionId), ("@r", runSeq));
        if (taken.Count > 0)
        {
            throw new ForbiddenException($"alias '{taken[0].Alias}' is on v{taken[0].Number}, which this run did not produce; a run's key may not move it");
        }
    }

    public Task<bool> RunReferencesBlobAsync(long entityId, string runId, string digest, CancellationToken cancellationToken) =>
        database.ReadAsync(async session => await session.ScalarAsync("""
            SELECT 1 FROM runs r JOIN run_artifacts ra ON ra.run_seq = r.seq JOIN artifact_versions v ON v.id = ra.version_id
            JOIN artifact_files f ON f.version_id = v.id
            WHERE r.id = @id AND r.entity_id = @e AND f.digest = @d AND (ra.role = 'used' OR v.created_by_run_seq = r.seq) LIMIT 1
            """, cancellationToken, ("@id", runId), ("@e", entityId), ("@d", digest)) is not null, cancellationToken);

    private static async Task<long?> RunSeqAsync(DbSession session, long entityId, string runId, CancellationToken cancellationToken) =>
        await session.ScalarAsync("SELECT seq FROM runs WHERE id = @id AND entity_id = @e", cancellationToken, ("@id", runId), ("@e", entityId)) as long?;

    /// <summary>
    /// The collection's id, creating it (and its project) on first use, with its row locked: commits to one collection
    /// queue up here, so two replicas never both number a new version vK.
    /// </summary>
    private async Task<long> LockCollectionAsync(DbSession session, long entityId, NewArtifactVersion version, CancellationToken cancellationToken)
    {
        await session.ExecuteAsync("INSERT INTO projects (entity_id, name, created_at) VALUES (@e, @name, @at) ON CONFLICT (entity_id, name) DO NOTHING",
            cancellationToken, ("@e", entityId), ("@name", version.Project), ("@at", version.CreatedAt));
        var projectId = (long)(await session.ScalarAsync("SELECT id FROM projects WHERE entity_id = @e AND name = @name", cancellationToken, ("@e", entityId), ("@name", version.Project)))!;
        await session.ExecuteAsync("INSERT INTO artifact_collections (project_id, name, type, created_at) VALUES (@p, @n, @t, @at) ON CONFLICT (project_id, name) DO NOTHING",
            cancellationToken, ("@p", projectId), ("@n", version.Name), ("@t", version.Type), ("@at", version.CreatedAt));
        var (id, type) = (await session.ListAsync($"SELECT id, type FROM artifact_collections WHERE project_id = @p AND name = @n{database.LockRows("artifact_collections")}",
            r => (r.Long(0), r.String(1)), cancellationToken, ("@p", projectId), ("@n", version.Name)))[0];
        return type == version.Type ? id : throw new StoreValidationException("type", $"artifact '{version.Name}' is of type '{type}', not '{version.Type}'");
    }

    private static async Task<long> InsertVersionAsync(DbSession session, long entityId, long collectionId, long? runSeq, NewArtifactVersion version, CancellationToken cancellationToken)
    {
        var versionId = (long)(await session.ScalarAsync("""
            INSERT INTO artifact_versions (collection_id, version, digest, size, file_count, metadata, created_by_run_seq, created_at)
            VALUES (@c, (SELECT COALESCE(MAX(version) + 1, 0) FROM artifact_versions WHERE collection_id = @c), @d, @size, @count, @meta, @run, @at)
            RETURNING id
            """, cancellationToken,
            ("@c", collectionId), ("@d", version.Digest), ("@size", version.Files.Sum(f => f.Size)), ("@count", version.Files.Count),
            ("@meta", version.MetadataJson), ("@run", runSeq), ("@at", version.CreatedAt)))!;
        await session.ExecuteAsync([Sql.InsertRows("artifact_files", [("version_id", versionId)],
            [("path", version.Files.Select(f => f.Path).ToArray()), ("size", version.Files.Select(f => f.Size).ToArray()), ("digest", version.Files.Select(f => f.Sha256).ToArray())])],
            cancellationToken);

        // Every file's content must be a blob this entity uploaded, of the size the manifest says.
        var missing = await session.ListAsync("""
            SELECT f.path, f.size, b.size FROM artifact_files f
            LEFT JOIN entity_blobs eb ON eb.entity_id = @e AND eb.digest = f.digest LEFT JOIN blobs b ON b.digest = eb.digest
            WHERE f.version_id = @v AND (b.size IS NULL OR b.size <> f.size) LIMIT 1
            """, r => (Path: r.String(0), Listed: r.Long(1), Stored: r.NullableLong(2)), cancellationToken, ("@e", entityId), ("@v", versionId));
        if (missing.Count > 0)
        {
            var (path, listed, stored) = missing[0];
            var index = version.Files.Select(f => f.Path).ToList().IndexOf(path);
            throw stored is null
                ? new StoreValidationException($"files[{index}].sha256", $"the content of '{path}' was not uploaded: PUT it to /api/v1/blobs/{{sha256}} first")
                : new StoreValidationException($"files[{index}].size", $"'{path}' is listed as {listed} bytes, but its content is {stored} bytes");
        }

        return versionId;
    }

    private static Sql RunArtifactInsert(long runSeq, long versionId, string role, DateTimeOffset at) =>
        new("INSERT INTO run_artifacts (run_seq, version_id, role, created_at) VALUES (@r, @v, @role, @at) ON CONFLICT DO NOTHING",
            ("@r", runSeq), ("@v", versionId), ("@role", role), ("@at", at));

    private async Task<(long Id, ArtifactVersionRecord Version)?> FindVersionAsync(DbSession session, long entityId, string project, string name, string reference, CancellationToken cancellationToken)
    {
        var where = new StringBuilder("WHERE p.entity_id = @e AND p.name = @p AND c.name = @n AND ");
        (string, object?)[] parameters;
        if (ArtifactRefs.ParseVersion(reference) is { } number)
        {
            where.Append("v.version = @k");
            parameters = [("@e", entityId), ("@p", project), ("@n", name), ("@k", number)];
        }
        else if (reference == ArtifactRefs.Latest)
        {
            where.Append($"v.version = {LatestOfCollection}");
            parameters = [("@e", entityId), ("@p", project), ("@n", name)];
        }
        else
        {
            where.Append("v.id = (SELECT a.version_id FROM artifact_aliases a WHERE a.collection_id = c.id AND a.alias = @a)");
            parameters = [("@e", entityId), ("@p", project), ("@n", name), ("@a", reference)];
        }

        var rows = await ReadVersionsAsync(session, where.ToString(), cancellationToken, parameters);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>Versions with their aliases (<c>latest</c> first where it applies), in one query.</summary>
    private Task<List<(long Id, ArtifactVersionRecord Version)>> ReadVersionsAsync(DbSession session, string where, CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        session.ListAsync($"SELECT {VersionColumns} {where}", r =>
        {
            var number = r.Int(5);
            var aliases = JsonSerializer.Deserialize(r.String(13), LiftoffJsonContext.Default.IReadOnlyListString)!;
            return (r.Long(0), new ArtifactVersionRecord(
                Entity: r.String(1), Project: r.String(2), Name: r.String(3), Type: r.String(4),
                Version: number, Digest: r.String(6), Size: r.Long(7), FileCount: r.Int(8),
                Aliases: number == r.Int(12) ? [ArtifactRefs.Latest, .. aliases] : aliases,
                MetadataJson: r.String(9), ProducedBy: r.NullableString(10), CreatedAt: r.Time(11), Files: null));
        }, cancellationToken, parameters);
}
