"""HTTP client for the Liftoff API: one persistent keep-alive connection, problem details, retries."""

from __future__ import annotations

import http.client
import json
import platform
import random
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple
from urllib.parse import quote, urlsplit

from ._version import __version__

USER_AGENT = f"liftoff-python/{__version__} python/{platform.python_version()}"

# Compact, strict JSON: the server refuses NaN/Infinity, so never emit them.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)


class Error(Exception):
    """An error from Liftoff: a problem reported by the server, or a configuration error.

    ``status`` is the HTTP status (None when no response was received), ``title``/``detail``
    come from the server's problem details and ``errors`` holds validation messages by field.
    """

    __module__ = "liftoff"  # tracebacks say liftoff.Error, its public name

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        title: Optional[str] = None,
        detail: Optional[str] = None,
        errors: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = dict(errors) if errors else {}

    def __str__(self) -> str:
        return self.message


class TransientError(Error):
    """A failure worth retrying: no response (connection error, timeout), 5xx or 429.

    ``maybe_processed`` is False when the request certainly did not take effect (the connection
    could not be opened, or the answer was 429 or 503), so even a non-idempotent request may be
    sent again. A 502 or 504 may come from a load balancer whose replica died while handling
    the request, after it took effect.
    """

    __module__ = "liftoff"

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        retry_after: Optional[float] = None,
        maybe_processed: bool = True,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
        self.maybe_processed = maybe_processed


def encode_json(body: Any) -> bytes:
    # "replace" turns lone surrogates (e.g. from undecodable console bytes) into "?".
    return _ENCODER.encode(body).encode("utf-8", "replace")


def path_segment(value: str) -> str:
    return quote(str(value), safe="")


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 10.0, retry_after: Optional[float] = None) -> float:
    """Capped exponential backoff with jitter (between half and all of the exponential delay)."""
    delay = min(cap, base * 2.0 ** min(attempt, 16))
    delay = random.uniform(delay / 2, delay)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, 60.0))
    return delay


def _problem_message(method: str, path: str, status: int, reason: str, data: bytes) -> Error:
    title: Optional[str] = None
    detail: Optional[str] = None
    errors: Optional[Mapping[str, Any]] = None
    try:
        problem = json.loads(data.decode("utf-8")) if data else None
    except ValueError:
        problem = None
    if isinstance(problem, dict):
        title = problem.get("title") if isinstance(problem.get("title"), str) else None
        detail = problem.get("detail") if isinstance(problem.get("detail"), str) else None
        if isinstance(problem.get("errors"), dict):
            errors = problem["errors"]
    parts = [f"{method} {path} failed: {status} {reason or title or ''}".rstrip()]
    if detail:
        parts.append(detail)
    elif title and title != reason:
        parts.append(title)
    if errors:
        parts.append(
            "; ".join(
                f"{field}: {' '.join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))}"
                for field, msgs in errors.items()
            )
        )
    return Error(" - ".join(parts), status=status, title=title, detail=detail, errors=errors)


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class HttpClient:
    """A minimal JSON client over one persistent ``http.client`` connection.

    Requests are serialized by a lock; threads that must not wait for each other get their
    own client (and connection). The API key is only ever placed in the
    Authorization header; it is never part of a message, exception or repr.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 20.0, entity: Optional[str] = None) -> None:
        parts = urlsplit(base_url)
        # Every request names the entity (a user or team) it acts on; without one the server
        # takes the key's user's default entity.
        self._entity_query = "entity=" + quote(entity, safe="") if entity else None
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._conn: Optional[http.client.HTTPConnection] = None
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json, application/problem+json",
            "User-Agent": USER_AGENT,
        }
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        scheme = "https" if self._https else "http"
        port = f":{self._port}" if self._port else ""
        return f"<HttpClient {scheme}://{self._host}{port}{self._prefix}>"

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def request(self, method: str, path: str, body: Any = None, *, raw_body: Optional[bytes] = None) -> Any:
        """One request (plus one immediate retry when a reused keep-alive connection turns out
        to be closed). Returns the decoded JSON body, or None for an empty body.

        Raises :class:`TransientError` for connection errors, timeouts, 5xx and 429, and
        :class:`Error` for any other non-2xx answer.
        """
        payload = raw_body if raw_body is not None else (None if body is None else encode_json(body))
        with self._lock:
            status, reason, headers, data = self._exchange(method, path, payload)
        if 200 <= status < 300:
            if not data:
                return None
            try:
                return json.loads(data.decode("utf-8"))
            except ValueError:
                raise Error(f"{method} {path}: the server sent invalid JSON", status=status) from None
        if status == 429 or status >= 500:
            err = _problem_message(method, path, status, reason, data)
            raise TransientError(
                err.message,
                status=status,
                retry_after=_retry_after(headers.get("retry-after")),
                maybe_processed=status not in (429, 503),
            )
        raise _problem_message(method, path, status, reason, data)

    def _exchange(self, method: str, path: str, payload: Optional[bytes]) -> Tuple[int, str, Dict[str, str], bytes]:
        url = self._prefix + path
        if self._entity_query is not None:
            url += ("&" if "?" in path else "?") + self._entity_query
        headers = self._headers
        if payload is None and method in ("POST", "PUT", "PATCH"):
            payload = b""
        for attempt in (0, 1):
            reused = self._conn is not None
            if self._conn is None:
                conn = self._connect()
                try:
                    conn.connect()
                except ssl.SSLCertVerificationError as exc:
                    conn.close()
                    raise Error(f"{method} {path}: TLS certificate verification failed ({exc.verify_message})") from None
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    raise TransientError(
                        f"{method} {path}: cannot reach the server ({_describe(exc)})",
                        maybe_processed=False,
                    ) from None
                self._conn = conn
            conn = self._conn
            try:
                conn.request(method, url, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                resp_headers = {k.lower(): v for k, v in resp.getheaders()}
                if resp.will_close:
                    self.close()
                return resp.status, resp.reason, resp_headers, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if reused and attempt == 0:
                    continue  # a stale keep-alive connection: reconnect once, at once
                raise TransientError(f"{method} {path}: connection lost ({_describe(exc)})") from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise TransientError(f"{method} {path}: no answer from the server ({_describe(exc)})") from None
        raise AssertionError("unreachable")

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        deadline: Optional[float] = None,
        abort: Optional[threading.Event] = None,
        retry_if: Optional[Callable[[TransientError], bool]] = None,
        on_retry: Optional[Callable[[TransientError, int, float], None]] = None,
    ) -> Any:
        """Like :meth:`request`, retrying transient failures with backoff until ``deadline``
        (a ``time.monotonic()`` value; None = no limit) or until ``abort`` is set.
        ``retry_if`` narrows which transient failures are retried (default: all)."""
        payload = None if body is None else encode_json(body)
        attempt = 0
        while True:
            try:
                return self.request(method, path, raw_body=payload)
            except TransientError as exc:
                if retry_if is not None and not retry_if(exc):
                    raise
                delay = backoff_delay(attempt, retry_after=exc.retry_after)
                attempt += 1
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise
                if on_retry is not None:
                    on_retry(exc, attempt, delay)
                if abort is not None:
                    if abort.wait(delay):
                        raise
                else:
                    time.sleep(delay)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
