using Liftoff.Contracts;
using Liftoff.Core.Launch;

namespace Liftoff.Server.Storage.Relational;

/// <summary>
/// Queue control (issue #17): moving pending items and pausing queues. An item's place within its priority level is
/// its position: new items take <c>seq × <see cref="PositionGap"/></c> (so enqueue order holds), a move takes a key
/// between its new neighbours'. When two neighbours leave no room, the items ahead of the gap step down by one gap, so
/// the keys new items take (always above) never collide with moved ones.
/// </summary>
internal sealed partial class RelationalStore
{
    internal const long PositionGap = 1L << 20;

    public Task<ItemRecord?> MoveItemAsync(long entityId, string itemId, ItemMove move, Action<ItemRecord> authorize, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            // Locked: a claim racing this move skips the row (SKIP LOCKED) or, having taken it first, leaves it leased,
            // which the check below reports.
            var found = await ReadItemsAsync(session, $"WHERE i.entity_id = @e AND i.id = @id{database.LockRows("i")}", cancellationToken, ("@e", entityId), ("@id", itemId));
            if (found.Count == 0)
            {
                return null;
            }

            var (item, _, queueId) = found[0];
            authorize(item);
            if (item.State != ItemStates.Pending)
            {
                throw new ItemConflictException($"item {itemId} is {item.State}: only a pending item moves");
            }

            var position = Convert.ToInt64(await session.ScalarAsync("SELECT position FROM items WHERE id = @id", cancellationToken, ("@id", itemId)), System.Globalization.CultureInfo.InvariantCulture);
            var level = (Queue: move.QueueId ?? queueId, Priority: move.Priority ?? item.Priority);
            long? anchorPosition = null;
            if (move.Anchor is { } anchorId)
            {
                var anchor = await session.ListAsync("SELECT state, queue_id, priority, position FROM items WHERE entity_id = @e AND id = @id",
                    r => (State: r.String(0), Queue: r.Long(1), Priority: r.Int(2), Position: r.Long(3)), cancellationToken, ("@e", entityId), ("@id", anchorId));
                var side = move.Place == MovePlace.Before ? "before" : "after";
                if (anchor.Count == 0)
                {
                    throw new ItemConflictException($"{side}: launch item '{anchorId}' not found");
                }

                if (anchorId == itemId)
                {
                    throw new ItemConflictException($"{side}: an item does not move next to itself");
                }

                if (anchor[0].State != ItemStates.Pending)
                {
                    throw new ItemConflictException($"{side}: item {anchorId} is {anchor[0].State}, not pending: only pending items have a place in line");
                }

                if (anchor[0].Queue != level.Queue)
                {
                    throw new ItemConflictException($"{side}: item {anchorId} waits on another queue than the one item {itemId} is to be on");
                }

                level.Priority = anchor[0].Priority;
                anchorPosition = anchor[0].Position;
            }

            var newPosition = move.Place switch
            {
                MovePlace.Top => await NeighbourAsync(session, "MIN", "", level, itemId, null, cancellationToken) is { } first ? first - PositionGap : position,
                MovePlace.Bottom => await NeighbourAsync(session, "MAX", "", level, itemId, null, cancellationToken) is { } last ? last + 1 : position,
                MovePlace.Before => await BetweenAsync(session, level, itemId,
                    await NeighbourAsync(session, "MAX", "AND position < @at", level, itemId, anchorPosition, cancellationToken), anchorPosition!.Value, cancellationToken),
                MovePlace.After => await NeighbourAsync(session, "MIN", "AND position > @at", level, itemId, anchorPosition, cancellationToken) is { } next
                    ? await BetweenAsync(session, level, itemId, anchorPosition!.Value, next, cancellationToken)
                    : anchorPosition!.Value + 1,
                _ => position,
            };

            await session.ExecuteAsync([
                new Sql("UPDATE items SET queue_id = @q, priority = @p, position = @pos WHERE id = @id",
                    ("@q", level.Queue), ("@p", level.Priority), ("@pos", newPosition), ("@id", itemId)),
                new Sql("""
                    INSERT INTO item_events (item_id, at, state, attempt, failure_class, phase, message, run_id, agent_id, claimable_at)
                    VALUES (@id, @at, @state, @attempt, NULL, NULL, @message, NULL, NULL, @claimable)
                    """, ("@id", itemId), ("@at", now), ("@state", item.State), ("@attempt", item.Attempt), ("@message", move.Note), ("@claimable", item.ClaimableAt)),
                .. level.Queue != queueId ? Wake(level.Queue) : [],
            ], cancellationToken);
            return (await ReadItemsAsync(session, "WHERE i.id = @id", cancellationToken, ("@id", itemId)))[0].Item;
        }, cancellationToken);

    /// <summary>The lowest or highest position of the level's other pending items (beyond <paramref name="at"/> by <paramref name="beyond"/>).</summary>
    private static async Task<long?> NeighbourAsync(DbSession session, string aggregate, string beyond, (long Queue, int Priority) level, string itemId, long? at, CancellationToken cancellationToken) =>
        await session.ScalarAsync($"SELECT {aggregate}(position) FROM items WHERE queue_id = @q AND priority = @p AND state = '{ItemStates.Pending}' AND id <> @id {beyond}",
            cancellationToken, [("@q", level.Queue), ("@p", level.Priority), ("@id", itemId), .. at is { } bound ? [("@at", (object?)bound)] : Array.Empty<(string, object?)>()]) is { } value
            ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)
            : null;

    /// <summary>
    /// A key between <paramref name="low"/> (none: the level's head) and <paramref name="high"/>; without room between
    /// them, the level's other pending items at or below <paramref name="low"/> step down a gap first.
    /// </summary>
    private static async Task<long> BetweenAsync(DbSession session, (long Queue, int Priority) level, string itemId, long? low, long high, CancellationToken cancellationToken)
    {
        if (low is not { } below)
        {
            return high - PositionGap;
        }

        if (high - below < 2)
        {
            await session.ExecuteAsync(
                $"UPDATE items SET position = position - {PositionGap} WHERE queue_id = @q AND priority = @p AND state = '{ItemStates.Pending}' AND position <= @low AND id <> @id",
                cancellationToken, ("@q", level.Queue), ("@p", level.Priority), ("@low", below), ("@id", itemId));
            below -= PositionGap;
        }

        return below + ((high - below) / 2);
    }

    public Task<QueueRecord?> SetQueuePausedAsync(long entityId, string name, bool paused, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            if (await session.FirstAsync($"SELECT {QueueColumns} WHERE q.entity_id = @e AND q.name = @name{database.LockRows("q")}", QueueRow, cancellationToken, ("@e", entityId), ("@name", name)) is not { } queue)
            {
                return null;
            }

            // Resumed: the claims waiting on the queue's agents look again at once.
            await session.ExecuteAsync([
                new Sql("UPDATE queues SET paused = @paused WHERE id = @q", ("@paused", paused), ("@q", queue.Id)),
                .. paused ? [] : Wake(queue.Id),
            ], cancellationToken);
            return queue with { Paused = paused };
        }, cancellationToken);

    public Task<(long Ahead, long HigherAhead)?> CountAheadAsync(long entityId, string itemId, CancellationToken cancellationToken) =>
        database.ReadAsync<(long, long)?>(async session =>
        {
            // Walks the claimable index of the item's queue up to the item: the claim order is (priority, position, seq).
            var counts = await session.ListAsync($"""
                SELECT COUNT(a.seq), COALESCE(SUM(CASE WHEN a.priority < i.priority THEN 1 ELSE 0 END), 0)
                FROM items i LEFT JOIN items a ON a.queue_id = i.queue_id AND a.state = '{ItemStates.Pending}' AND a.claimable_at IS NULL
                  AND (a.priority < i.priority OR (a.priority = i.priority AND (a.position < i.position OR (a.position = i.position AND a.seq < i.seq))))
                WHERE i.entity_id = @e AND i.id = @id AND i.state = '{ItemStates.Pending}'
                GROUP BY i.seq
                """, r => (r.Long(0), r.Long(1)), cancellationToken, ("@e", entityId), ("@id", itemId));
            return counts.Count == 0 ? null : counts[0];
        }, cancellationToken);
}
