using System.Text;
using Liftoff.Contracts;
using Liftoff.Core.Artifacts;
using Microsoft.Data.Sqlite;

namespace Liftoff.Server.Storage.Sqlite;

internal sealed partial class SqliteStore : IArtifactStore
{
    private const string VersionColumns = """
        v.id, e.name, p.name, c.name, c.type, v.version, v.digest, v.size, v.file_count, v.metadata, r.id, v.created_at,
        (SELECT MAX(l.version) FROM artifact_versions l WHERE l.collection_id = c.id)
        FROM artifact_versions v JOIN artifact_collections c ON c.id = v.collection_id JOIN projects p ON p.id = c.project_id
        JOIN entities e ON e.id = p.entity_id LEFT JOIN runs r ON r.seq = v.created_by_run_seq
        """;

    public Task AddBlobAsync(long entityId, string digest, long size, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            await Command(connection, transaction, "INSERT INTO blobs (digest, size, created_at) VALUES ($d, $size, $at) ON CONFLICT DO NOTHING",
                ("$d", digest), ("$size", size), ("$at", Ms(at))).RunAsync(cancellationToken);
            await Command(connection, transaction, "INSERT INTO entity_blobs (entity_id, digest) VALUES ($e, $d) ON CONFLICT DO NOTHING",
                ("$e", entityId), ("$d", digest)).RunAsync(cancellationToken);
            return 0;
        }, cancellationToken);

    public Task<IReadOnlyDictionary<string, long>> FindBlobsAsync(long entityId, IReadOnlyCollection<string> digests, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyDictionary<string, long>>(async connection =>
        {
            var found = new Dictionary<string, long>(StringComparer.Ordinal);
            await using var command = Command(connection, null,
                "SELECT b.size FROM entity_blobs eb JOIN blobs b ON b.digest = eb.digest WHERE eb.entity_id = $e AND eb.digest = $d",
                ("$e", entityId), ("$d", ""));
            command.Prepare();
            foreach (var digest in digests.Distinct(StringComparer.Ordinal))
            {
                command.Parameters[1].Value = digest;
                if (await command.ExecuteScalarAsync(cancellationToken) is long size)
                {
                    found[digest] = size;
                }
            }

            return found;
        }, cancellationToken);

    public Task<ArtifactCommit> CommitVersionAsync(long entityId, NewArtifactVersion version, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            long? runSeq = null;
            if (version.RunId is not null)
            {
                runSeq = await Command(connection, transaction, "SELECT seq FROM runs WHERE id = $id AND entity_id = $e", ("$id", version.RunId), ("$e", entityId))
                    .ScalarAsync(cancellationToken) as long?
                    ?? throw new StoreValidationException("run_id", $"run '{version.RunId}' not found");
            }

            var collectionId = await EnsureCollectionAsync(connection, transaction, entityId, version, cancellationToken);
            var versionId = await Command(connection, transaction, "SELECT id FROM artifact_versions WHERE collection_id = $c AND digest = $d",
                ("$c", collectionId), ("$d", version.Digest)).ScalarAsync(cancellationToken) as long?;
            var created = versionId is null;
            versionId ??= await InsertVersionAsync(connection, transaction, entityId, collectionId, runSeq, version, cancellationToken);

            await using (var alias = Command(connection, transaction,
                "INSERT INTO artifact_aliases (collection_id, alias, version_id) VALUES ($c, $a, $v) ON CONFLICT (collection_id, alias) DO UPDATE SET version_id = excluded.version_id",
                ("$c", collectionId), ("$a", ""), ("$v", versionId)))
            {
                foreach (var name in version.Aliases)
                {
                    alias.Parameters[1].Value = name;
                    await alias.ExecuteNonQueryAsync(cancellationToken);
                }
            }

            if (runSeq is not null)
            {
                await AddRunArtifactAsync(connection, transaction, runSeq.Value, versionId.Value, "produced", version.CreatedAt, cancellationToken);
            }

            var stored = await ReadVersionAsync(connection, transaction, "WHERE v.id = $v", [("$v", versionId)], cancellationToken);
            return new ArtifactCommit(stored!, created);
        }, cancellationToken);

    public Task<ArtifactVersionRecord?> GetVersionAsync(long entityId, string project, string name, string reference, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection =>
        {
            var version = await FindVersionAsync(connection, null, entityId, project, name, reference, cancellationToken);
            if (version is null)
            {
                return null;
            }

            await using var command = Command(connection, null, """
                SELECT f.path, f.size, f.digest FROM artifact_files f JOIN artifact_versions v ON v.id = f.version_id
                JOIN artifact_collections c ON c.id = v.collection_id JOIN projects p ON p.id = c.project_id
                WHERE p.entity_id = $e AND p.name = $p AND c.name = $n AND v.version = $k ORDER BY f.path
                """, ("$e", entityId), ("$p", project), ("$n", name), ("$k", version.Version));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var files = new List<ManifestEntry>(version.FileCount);
            while (await reader.ReadAsync(cancellationToken))
            {
                files.Add(new ManifestEntry(reader.GetString(0), reader.GetInt64(1), reader.GetString(2)));
            }

            return version with { Files = files };
        }, cancellationToken);

    public Task<IReadOnlyList<ArtifactCollectionRecord>> ListCollectionsAsync(long entityId, string? project, string? type, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ArtifactCollectionRecord>>(async connection =>
        {
            await using var command = Command(connection, null, $"""
                SELECT e.name, p.name, c.name, c.type, c.created_at,
                    (SELECT COUNT(*) FROM artifact_versions v WHERE v.collection_id = c.id),
                    (SELECT MAX(v.version) FROM artifact_versions v WHERE v.collection_id = c.id)
                FROM artifact_collections c JOIN projects p ON p.id = c.project_id JOIN entities e ON e.id = p.entity_id
                WHERE p.entity_id = $e {(project is null ? "" : "AND p.name = $p")} {(type is null ? "" : "AND c.type = $t")}
                ORDER BY p.name, c.name
                """, ("$e", entityId), ("$p", project), ("$t", type));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var collections = new List<ArtifactCollectionRecord>();
            while (await reader.ReadAsync(cancellationToken))
            {
                collections.Add(new ArtifactCollectionRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetInt32(6), Time(reader.GetInt64(4))));
            }

            return collections;
        }, cancellationToken);

    public Task<IReadOnlyList<ArtifactVersionRecord>?> ListVersionsAsync(long entityId, string project, string name, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ArtifactVersionRecord>?>(async connection =>
        {
            var where = "WHERE p.entity_id = $e AND p.name = $p AND c.name = $n";
            (string, object?)[] parameters = [("$e", entityId), ("$p", project), ("$n", name)];
            var versions = await ReadVersionsAsync(connection, null, where + " ORDER BY v.version DESC", parameters, cancellationToken);
            if (versions.Count > 0)
            {
                return versions;
            }

            var exists = await Command(connection, null, "SELECT 1 FROM artifact_collections c JOIN projects p ON p.id = c.project_id " + where, parameters)
                .ScalarAsync(cancellationToken);
            return exists is null ? null : versions;
        }, cancellationToken);

    public Task<ArtifactVersionRecord?> SetAliasAsync(long entityId, string project, string name, string alias, int version, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            (long VersionId, long CollectionId)? target = null;
            await using var readerCommand = Command(connection, transaction, """
                SELECT v.id, c.id FROM artifact_versions v JOIN artifact_collections c ON c.id = v.collection_id JOIN projects p ON p.id = c.project_id
                WHERE p.entity_id = $e AND p.name = $p AND c.name = $n AND v.version = $k
                """, ("$e", entityId), ("$p", project), ("$n", name), ("$k", version));
            await using (var reader = await readerCommand.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    target = (reader.GetInt64(0), reader.GetInt64(1));
                }
            }

            if (target is not { } found)
            {
                return null;
            }

            var (versionId, collectionId) = found;

            await Command(connection, transaction,
                "INSERT INTO artifact_aliases (collection_id, alias, version_id) VALUES ($c, $a, $v) ON CONFLICT (collection_id, alias) DO UPDATE SET version_id = excluded.version_id",
                ("$c", collectionId), ("$a", alias), ("$v", versionId)).RunAsync(cancellationToken);
            return await ReadVersionAsync(connection, transaction, "WHERE v.id = $v", [("$v", versionId)], cancellationToken);
        }, cancellationToken);

    public Task<ArtifactVersionRecord?> RecordUseAsync(long entityId, string runId, string project, string name, string reference, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            if (await Command(connection, transaction, "SELECT seq FROM runs WHERE id = $id AND entity_id = $e", ("$id", runId), ("$e", entityId))
                    .ScalarAsync(cancellationToken) is not long runSeq
                || await FindVersionAsync(connection, transaction, entityId, project, name, reference, cancellationToken) is not { } version)
            {
                return null;
            }

            var versionId = (long)(await Command(connection, transaction, """
                SELECT v.id FROM artifact_versions v JOIN artifact_collections c ON c.id = v.collection_id JOIN projects p ON p.id = c.project_id
                WHERE p.entity_id = $e AND p.name = $p AND c.name = $n AND v.version = $k
                """, ("$e", entityId), ("$p", project), ("$n", name), ("$k", version.Version)).ScalarAsync(cancellationToken))!;
            await AddRunArtifactAsync(connection, transaction, runSeq, versionId, "used", at, cancellationToken);
            return version;
        }, cancellationToken);

    public Task<RunArtifactRecords?> ListRunArtifactsAsync(long entityId, string runId, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection =>
        {
            if (await Command(connection, null, "SELECT seq FROM runs WHERE id = $id AND entity_id = $e", ("$id", runId), ("$e", entityId))
                    .ScalarAsync(cancellationToken) is not long runSeq)
            {
                return null;
            }

            const string where = "JOIN run_artifacts ra ON ra.version_id = v.id WHERE ra.run_seq = $r AND ra.role = $role ORDER BY ra.created_at, v.id";
            var used = await ReadVersionsAsync(connection, null, where, [("$r", runSeq), ("$role", "used")], cancellationToken);
            var produced = await ReadVersionsAsync(connection, null, where, [("$r", runSeq), ("$role", "produced")], cancellationToken);
            return (RunArtifactRecords?)new RunArtifactRecords(used, produced);
        }, cancellationToken);

    private static async Task<long> EnsureCollectionAsync(SqliteConnection connection, SqliteTransaction transaction, long entityId, NewArtifactVersion version, CancellationToken cancellationToken)
    {
        await Command(connection, transaction,
            "INSERT INTO projects (entity_id, name, created_at) VALUES ($e, $name, $at) ON CONFLICT (entity_id, name) DO NOTHING",
            ("$e", entityId), ("$name", version.Project), ("$at", Ms(version.CreatedAt))).RunAsync(cancellationToken);
        var projectId = (long)(await Command(connection, transaction, "SELECT id FROM projects WHERE entity_id = $e AND name = $name",
            ("$e", entityId), ("$name", version.Project)).ScalarAsync(cancellationToken))!;
        await using var readerCommand = Command(connection, transaction, "SELECT id, type FROM artifact_collections WHERE project_id = $p AND name = $n",
            ("$p", projectId), ("$n", version.Name));
        await using (var reader = await readerCommand.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                var type = reader.GetString(1);
                return type == version.Type
                    ? reader.GetInt64(0)
                    : throw new StoreValidationException("type", $"artifact '{version.Name}' is of type '{type}', not '{version.Type}'");
            }
        }

        return (long)(await Command(connection, transaction,
            "INSERT INTO artifact_collections (project_id, name, type, created_at) VALUES ($p, $n, $t, $at) RETURNING id",
            ("$p", projectId), ("$n", version.Name), ("$t", version.Type), ("$at", Ms(version.CreatedAt))).ScalarAsync(cancellationToken))!;
    }

    private static async Task<long> InsertVersionAsync(SqliteConnection connection, SqliteTransaction transaction, long entityId, long collectionId, long? runSeq, NewArtifactVersion version, CancellationToken cancellationToken)
    {
        var number = (long)(await Command(connection, transaction, "SELECT COALESCE(MAX(version) + 1, 0) FROM artifact_versions WHERE collection_id = $c",
            ("$c", collectionId)).ScalarAsync(cancellationToken))!;
        var versionId = (long)(await Command(connection, transaction, """
            INSERT INTO artifact_versions (collection_id, version, digest, size, file_count, metadata, created_by_run_seq, created_at)
            VALUES ($c, $k, $d, $size, $count, $meta, $run, $at) RETURNING id
            """,
            ("$c", collectionId), ("$k", number), ("$d", version.Digest), ("$size", version.Files.Sum(f => f.Size)), ("$count", version.Files.Count),
            ("$meta", version.MetadataJson), ("$run", runSeq), ("$at", Ms(version.CreatedAt))).ScalarAsync(cancellationToken))!;
        await using (var insert = Command(connection, transaction, "INSERT INTO artifact_files (version_id, path, size, digest) VALUES ($v, $path, $size, $d)",
            ("$v", versionId), ("$path", ""), ("$size", 0L), ("$d", "")))
        {
            insert.Prepare();
            foreach (var file in version.Files)
            {
                insert.Parameters[1].Value = file.Path;
                insert.Parameters[2].Value = file.Size;
                insert.Parameters[3].Value = file.Sha256;
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        // Every file's content must be a blob this entity uploaded, of the size the manifest says.
        await using var missingCommand = Command(connection, transaction, """
            SELECT f.path, f.size, b.size FROM artifact_files f
            LEFT JOIN entity_blobs eb ON eb.entity_id = $e AND eb.digest = f.digest LEFT JOIN blobs b ON b.digest = eb.digest
            WHERE f.version_id = $v AND (b.size IS NULL OR b.size <> f.size) LIMIT 1
            """, ("$e", entityId), ("$v", versionId));
        await using var missing = await missingCommand.ExecuteReaderAsync(cancellationToken);
        if (await missing.ReadAsync(cancellationToken))
        {
            var path = missing.GetString(0);
            var index = IndexOf(version.Files, path);
            throw missing.IsDBNull(2)
                ? new StoreValidationException($"files[{index}].sha256", $"the content of '{path}' was not uploaded: PUT it to /api/v1/blobs/{{sha256}} first")
                : new StoreValidationException($"files[{index}].size", $"'{path}' is listed as {missing.GetInt64(1)} bytes, but its content is {missing.GetInt64(2)} bytes");
        }

        return versionId;
    }

    private static int IndexOf(IReadOnlyList<ManifestEntry> files, string path)
    {
        for (var i = 0; i < files.Count; i++)
        {
            if (files[i].Path == path)
            {
                return i;
            }
        }

        return -1;
    }

    private static Task AddRunArtifactAsync(SqliteConnection connection, SqliteTransaction transaction, long runSeq, long versionId, string role, DateTimeOffset at, CancellationToken cancellationToken) =>
        Command(connection, transaction, "INSERT INTO run_artifacts (run_seq, version_id, role, created_at) VALUES ($r, $v, $role, $at) ON CONFLICT DO NOTHING",
            ("$r", runSeq), ("$v", versionId), ("$role", role), ("$at", Ms(at))).RunAsync(cancellationToken);

    private static Task<ArtifactVersionRecord?> FindVersionAsync(SqliteConnection connection, SqliteTransaction? transaction, long entityId, string project, string name, string reference, CancellationToken cancellationToken)
    {
        var where = new StringBuilder("WHERE p.entity_id = $e AND p.name = $p AND c.name = $n AND ");
        (string, object?)[] parameters;
        if (ArtifactRefs.ParseVersion(reference) is { } number)
        {
            where.Append("v.version = $k");
            parameters = [("$e", entityId), ("$p", project), ("$n", name), ("$k", number)];
        }
        else if (reference == ArtifactRefs.Latest)
        {
            where.Append("v.version = (SELECT MAX(l.version) FROM artifact_versions l WHERE l.collection_id = c.id)");
            parameters = [("$e", entityId), ("$p", project), ("$n", name)];
        }
        else
        {
            where.Append("v.id = (SELECT a.version_id FROM artifact_aliases a WHERE a.collection_id = c.id AND a.alias = $a)");
            parameters = [("$e", entityId), ("$p", project), ("$n", name), ("$a", reference)];
        }

        return ReadVersionAsync(connection, transaction, where.ToString(), parameters, cancellationToken);
    }

    private static async Task<ArtifactVersionRecord?> ReadVersionAsync(SqliteConnection connection, SqliteTransaction? transaction, string where, (string, object?)[] parameters, CancellationToken cancellationToken) =>
        (await ReadVersionsAsync(connection, transaction, where, parameters, cancellationToken)).FirstOrDefault();

    private static async Task<IReadOnlyList<ArtifactVersionRecord>> ReadVersionsAsync(SqliteConnection connection, SqliteTransaction? transaction, string where, (string, object?)[] parameters, CancellationToken cancellationToken)
    {
        var rows = new List<(long Id, ArtifactVersionRecord Version, bool Latest)>();
        await using (var command = Command(connection, transaction, $"SELECT {VersionColumns} {where}", parameters))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var number = reader.GetInt32(5);
                rows.Add((reader.GetInt64(0), new ArtifactVersionRecord(
                    Entity: reader.GetString(1), Project: reader.GetString(2), Name: reader.GetString(3), Type: reader.GetString(4),
                    Version: number, Digest: reader.GetString(6), Size: reader.GetInt64(7), FileCount: reader.GetInt32(8), Aliases: [],
                    MetadataJson: reader.GetString(9), ProducedBy: NullableString(reader, 10), CreatedAt: Time(reader.GetInt64(11)), Files: null),
                    number == reader.GetInt32(12)));
            }
        }

        var versions = new List<ArtifactVersionRecord>(rows.Count);
        await using var aliases = Command(connection, transaction, "SELECT alias FROM artifact_aliases WHERE version_id = $v ORDER BY alias", ("$v", 0L));
        foreach (var (id, version, latest) in rows)
        {
            aliases.Parameters[0].Value = id;
            var names = new List<string>();
            if (latest)
            {
                names.Add(ArtifactRefs.Latest);
            }

            await using var reader = await aliases.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                names.Add(reader.GetString(0));
            }

            versions.Add(version with { Aliases = names });
        }

        return versions;
    }
}
