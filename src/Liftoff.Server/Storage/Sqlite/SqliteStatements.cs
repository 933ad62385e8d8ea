using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace Liftoff.Server.Storage.Sqlite;

/// <summary>
/// Prepared statements kept per connection and keyed by their SQL, so a statement the store runs again is bound and
/// stepped, not parsed and planned again. A statement in use when the same SQL is asked for again (a nested read)
/// gets a second, uncached one; so does any SQL past <see cref="MaxPerConnection"/> (queries built from filters).
/// </summary>
internal sealed class SqliteStatements
{
    private const int MaxPerConnection = 256;
    private static readonly ConditionalWeakTable<SqliteConnection, SqliteStatements> ByConnection = [];
    private readonly Dictionary<string, SqliteStatement?> _idle = new(StringComparer.Ordinal);

    public static SqliteStatement Get(SqliteConnection connection, SqliteTransaction? transaction, string sql, ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var statements = ByConnection.GetValue(connection, _ => new SqliteStatements());
        SqliteStatement statement;
        if (statements._idle.TryGetValue(sql, out var idle) && idle is not null)
        {
            statements._idle[sql] = null;
            statement = idle;
        }
        else
        {
            var owner = statements._idle.Count < MaxPerConnection && statements._idle.TryAdd(sql, null) ? statements : null;
            var command = connection.CreateCommand();
            command.CommandText = sql;
            statement = new SqliteStatement(command, owner);
        }

        statement.Bind(transaction, parameters);
        return statement;
    }

    /// <summary>An owned statement is the only one cached for its SQL, so its place is free while it is out.</summary>
    internal void Return(SqliteStatement statement) => _idle[statement.Sql] = statement;
}

/// <summary>A command from <see cref="SqliteStatements"/>: disposing it hands it back for the next use.</summary>
internal sealed class SqliteStatement(SqliteCommand command, SqliteStatements? owner) : IAsyncDisposable
{
    internal SqliteCommand Command { get; } = command;

    internal string Sql => Command.CommandText;

    public SqliteParameterCollection Parameters => Command.Parameters;

    public void Prepare() => Command.Prepare();

    public Task<SqliteDataReader> ExecuteReaderAsync(CancellationToken cancellationToken) => Command.ExecuteReaderAsync(cancellationToken);

    public Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken) => Command.ExecuteNonQueryAsync(cancellationToken);

    public Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken) => Command.ExecuteScalarAsync(cancellationToken);

    /// <summary>Executes and hands the statement back.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        await using (this)
        {
            return await Command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Executes for one value and hands the statement back.</summary>
    public async Task<object?> ScalarAsync(CancellationToken cancellationToken)
    {
        await using (this)
        {
            return await Command.ExecuteScalarAsync(cancellationToken);
        }
    }

    internal void Bind(SqliteTransaction? transaction, ReadOnlySpan<(string Name, object? Value)> values)
    {
        Command.Transaction = transaction;
        var parameters = Command.Parameters;
        var same = parameters.Count == values.Length;
        for (var i = 0; same && i < values.Length; i++)
        {
            same = string.Equals(parameters[i].ParameterName, values[i].Name, StringComparison.Ordinal);
        }

        if (same)
        {
            for (var i = 0; i < values.Length; i++)
            {
                parameters[i].Value = values[i].Value ?? DBNull.Value;
            }

            return;
        }

        parameters.Clear();
        foreach (var (name, value) in values)
        {
            parameters.AddWithValue(name, value ?? DBNull.Value);
        }
    }

    public ValueTask DisposeAsync()
    {
        if (owner is null)
        {
            return Command.DisposeAsync();
        }

        owner.Return(this);
        return ValueTask.CompletedTask;
    }
}
