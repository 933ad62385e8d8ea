using System.Data.Common;
using System.Runtime.CompilerServices;

namespace Liftoff.Server.Storage.Relational;

/// <summary>
/// Prepared statements kept per connection and keyed by their SQL, so a statement the store runs again is bound and
/// stepped, not parsed and planned again (SQLite: parsing SQL was a fifth of a claim's CPU). A statement in use when the
/// same SQL is asked for again (a nested read) gets a second, uncached one; so does any SQL past
/// <see cref="MaxPerConnection"/> (queries built from filters).
/// </summary>
internal sealed class Statements
{
    private const int MaxPerConnection = 256;
    private static readonly ConditionalWeakTable<DbConnection, Statements> ByConnection = [];
    private readonly Dictionary<string, Statement?> _idle = new(StringComparer.Ordinal);

    /// <summary>A statement for <paramref name="sql"/>, bound; cached only where <paramref name="cache"/> says so.</summary>
    public static Statement Get(RelationalDatabase database, DbConnection connection, DbTransaction? transaction, string sql, bool cache, (string Name, object? Value)[] parameters)
    {
        var statements = cache ? ByConnection.GetValue(connection, _ => new Statements()) : null;
        Statement statement;
        if (statements is not null && statements._idle.TryGetValue(sql, out var idle) && idle is not null)
        {
            statements._idle[sql] = null;
            statement = idle;
        }
        else
        {
            var owner = statements is not null && statements._idle.Count < MaxPerConnection && statements._idle.TryAdd(sql, null) ? statements : null;
            var command = connection.CreateCommand();
            command.CommandText = sql;
            statement = new Statement(command, owner);
        }

        statement.Bind(database, transaction, parameters);
        return statement;
    }

    /// <summary>An owned statement is the only one cached for its SQL, so its place is free while it is out.</summary>
    internal void Return(Statement statement) => _idle[statement.Command.CommandText] = statement;
}

/// <summary>A command from <see cref="Statements"/>: disposing it hands it back for the next use.</summary>
internal sealed class Statement(DbCommand command, Statements? owner) : IAsyncDisposable
{
    internal DbCommand Command { get; } = command;

    public DbParameterCollection Parameters => Command.Parameters;

    public void Prepare() => Command.Prepare();

    public Task<DbDataReader> ExecuteReaderAsync(CancellationToken cancellationToken) => Command.ExecuteReaderAsync(cancellationToken);

    public Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken) => Command.ExecuteNonQueryAsync(cancellationToken);

    internal void Bind(RelationalDatabase database, DbTransaction? transaction, (string Name, object? Value)[] values)
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
                parameters[i].Value = database.Parameter(values[i].Value);
            }

            return;
        }

        parameters.Clear();
        foreach (var (name, value) in values)
        {
            var parameter = Command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = database.Parameter(value);
            parameters.Add(parameter);
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
