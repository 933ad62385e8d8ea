"""The background sender: batches history rows, console lines and patches, and heartbeats."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ._api import Error, HttpClient, TransientError, path_segment
from ._console import OnceWarner, say
from ._values import rfc3339

# Queue items. History rows are plain tuples ``(step, time, values)`` (the first element is an
# int) to keep ``Run.log`` cheap; everything else starts with a one-letter tag.
LINE = "l"  # (LINE, stream, text, time)
PATCH = "p"  # (PATCH, field, value)   field: "config" | "summary" | "name"

MAX_ROWS = 1000  # rows per POST /history
MAX_LINES = 1000  # lines per POST /logs
MAX_LINE_CHARS = 1 << 20  # characters per POST /logs (approximate body size cap)
BATCH_SECONDS = 0.05  # how long rows may wait to be batched
BACKLOG_WARNING = 1_000_000  # queued items that trigger a one-time memory warning


class _Aborted(Exception):
    pass


class Sender:
    """Owns a daemon thread and its own HTTP connection. ``queue`` is appended to by any thread
    (``collections.deque.append`` is atomic); only the sender thread pops from it."""

    def __init__(
        self,
        client: HttpClient,
        run_id: str,
        *,
        heartbeat_seconds: float,
        on_stop_requested: Callable[[], None],
        log_offset: int = 0,
        warn_once: Optional[OnceWarner] = None,
    ) -> None:
        self.queue: Deque[Tuple[Any, ...]] = deque()
        self._client = client
        base = f"/api/v1/runs/{path_segment(run_id)}"
        self._history_path = f"{base}/history"
        self._logs_path = f"{base}/logs"
        self._heartbeat_path = f"{base}/heartbeat"
        self._run_path = base
        self._heartbeat_seconds = heartbeat_seconds
        self._on_stop_requested = on_stop_requested
        self._log_offset = log_offset
        self._warn_once = warn_once or OnceWarner()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._abort = threading.Event()
        self._inflight = 0
        self._outage = False
        self._stop_seen = False
        self._thread = threading.Thread(target=self._main, name="liftoff-sender", daemon=True)

    # -- called from other threads ---------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def enqueue_line(self, stream: str, text: str, t: float) -> None:
        self.queue.append((LINE, stream, text, t))

    def enqueue_patch(self, field: str, value: Any) -> None:
        self.queue.append((PATCH, field, value))

    @property
    def pending(self) -> int:
        """Items not yet acknowledged by the server (queued plus in flight)."""
        return len(self.queue) + self._inflight

    def close(self, timeout: float, on_slow: Optional[Callable[[int], None]] = None) -> int:
        """Send everything queued, then stop. Returns how many items could not be sent within
        ``timeout`` seconds (0 on success); the thread is then told to give up.
        ``on_slow(pending)`` is called once if it takes more than two seconds."""
        self._closing.set()
        self._wake.set()
        started = time.monotonic()
        self._thread.join(min(timeout, 2.0))
        if self._thread.is_alive() and on_slow is not None:
            on_slow(self.pending)
        remaining = timeout - (time.monotonic() - started)
        if self._thread.is_alive() and remaining > 0:
            self._thread.join(remaining)
        if self._thread.is_alive():
            unsent = max(1, self.pending)
            self._abort.set()
            self._thread.join(0.5)
            return unsent
        return len(self.queue)

    def abort(self) -> None:
        self._closing.set()
        self._abort.set()
        self._wake.set()

    # -- the thread --------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self._loop()
        except _Aborted:
            pass
        except Exception as exc:  # a bug: never let it pass silently
            say(f"internal error in the sender thread, data is no longer sent: {exc!r}")
        finally:
            self._client.close()

    def _loop(self) -> None:
        queue = self.queue
        next_heartbeat = time.monotonic() + self._heartbeat_seconds
        while True:
            if not self._closing.is_set() and len(queue) < MAX_ROWS:
                timeout = min(BATCH_SECONDS, next_heartbeat - time.monotonic())
                if timeout > 0 and self._wake.wait(timeout):
                    self._wake.clear()
            if queue:
                self._send_batch()
            if time.monotonic() >= next_heartbeat:
                self._heartbeat()
                next_heartbeat = time.monotonic() + self._heartbeat_seconds
            if self._abort.is_set():
                return
            if self._closing.is_set() and not queue:
                return

    def _send_batch(self) -> None:
        queue = self.queue
        rows: List[Tuple[int, float, Dict[str, Any]]] = []
        lines: List[Tuple[str, str, str, float]] = []
        line_chars = 0
        patch: Dict[str, Any] = {}
        while queue:
            item = queue[0]
            tag = item[0]
            if type(tag) is int:
                if len(rows) >= MAX_ROWS or patch:
                    break
                rows.append(item)  # type: ignore[arg-type]
            elif tag == LINE:
                if len(lines) >= MAX_LINES or line_chars >= MAX_LINE_CHARS:
                    break
                lines.append(item)  # type: ignore[arg-type]
                line_chars += len(item[2])
            else:
                # A patch must reach the server after the rows queued before it (an explicit
                # summary value wins over earlier logged values); consecutive patches merge.
                if rows:
                    break
                _merge_patch(patch, item[1], item[2])
            queue.popleft()
        self._inflight = len(rows) + len(lines) + (1 if patch else 0)
        try:
            if rows:
                self._send_rows(rows)
            if lines:
                self._send_lines(lines)
            if patch:
                self._send("PATCH", self._run_path, patch, "config/summary update")
        finally:
            self._inflight = 0
        if self._outage and len(queue) >= BACKLOG_WARNING:
            self._warn_once(
                "backlog",
                f"{len(queue)} items are waiting in memory for the server to come back",
            )

    def _send_rows(self, rows: List[Tuple[int, float, Dict[str, Any]]]) -> None:
        body = {"rows": [{"step": s, "time": rfc3339(t), "values": v} for s, t, v in rows]}
        self._send("POST", self._history_path, body, "history")

    def _send_lines(self, lines: List[Tuple[str, str, str, float]]) -> None:
        offset = self._log_offset
        body = {
            "offset": offset,
            "lines": [{"stream": s, "text": text, "time": rfc3339(t)} for _, s, text, t in lines],
        }
        reply = self._send("POST", self._logs_path, body, "console")
        if reply is _DROPPED:
            return  # reuse these line numbers: the server has not stored them
        next_offset = offset + len(lines)
        if isinstance(reply, dict):
            server_next = reply.get("next_offset")
            if type(server_next) is int and server_next > next_offset:
                next_offset = server_next
        self._log_offset = next_offset

    def _send(self, method: str, path: str, body: Any, what: str) -> Any:
        """Send until it succeeds (retrying transient failures for as long as it takes, unless
        aborted). A non-retryable answer drops the batch with a one-time warning."""
        try:
            reply = self._client.call(method, path, body, abort=self._abort, on_retry=self._on_retry)
        except TransientError:
            raise _Aborted() from None
        except Error as exc:
            self._warn_once((what, exc.status), f"dropping {what} data the server refused: {exc}")
            return _DROPPED
        except (TypeError, ValueError) as exc:  # not JSON-serializable: should not happen
            self._warn_once((what, "encode"), f"dropping {what} data that cannot be encoded: {exc}")
            return _DROPPED
        self._recovered()
        return reply

    def _heartbeat(self) -> None:
        try:
            reply = self._client.request("POST", self._heartbeat_path, {})
        except TransientError as exc:
            self._on_retry(exc, 1, self._heartbeat_seconds)
            return
        except Error as exc:
            self._warn_once(("heartbeat", exc.status), f"heartbeat refused: {exc}")
            return
        self._recovered()
        if isinstance(reply, dict) and reply.get("stop_requested") is True and not self._stop_seen:
            self._stop_seen = True
            self._on_stop_requested()

    def _on_retry(self, exc: TransientError, attempt: int, delay: float) -> None:
        if not self._outage:
            self._outage = True
            say(f"{exc}; retrying in the background")

    def _recovered(self) -> None:
        if self._outage:
            self._outage = False
            say("the server is reachable again")


class _DroppedType:
    def __repr__(self) -> str:
        return "<dropped>"


_DROPPED = _DroppedType()


def _merge_patch(patch: Dict[str, Any], field: str, value: Any) -> None:
    if field == "name":
        patch["name"] = value
    else:
        patch.setdefault(field, {}).update(value)
