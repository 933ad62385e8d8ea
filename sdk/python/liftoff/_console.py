"""Console capture (a tee of sys.stdout/sys.stderr) and the SDK's own stderr messages."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, List, Optional, Set, TextIO

# A pending partial line longer than this is emitted as a line of its own.
MAX_LINE_CHARS = 64 * 1024

LineSink = Callable[[str, str, float], None]


def raw_stderr() -> Optional[TextIO]:
    """The current stderr, unwrapped if it is our tee (SDK messages are never captured)."""
    stream = sys.stderr
    if isinstance(stream, _Tee):
        return stream._liftoff_original
    return stream


def say(message: str) -> None:
    """Print ``liftoff: <message>`` on stderr. Never raises."""
    stream = raw_stderr()
    if stream is None:
        return
    try:
        stream.write(f"liftoff: {message}\n")
        stream.flush()
    except Exception:
        pass


class OnceWarner:
    """Prints each distinct warning (by key) only once."""

    def __init__(self) -> None:
        self._seen: Set[Any] = set()
        self._lock = threading.Lock()

    def __call__(self, key: Any, message: str) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
        say(message)
        return True


def _clean(line: str) -> str:
    """What a terminal would show for a line with carriage returns: the text after the last \\r."""
    if line.endswith("\r"):
        line = line.rstrip("\r")
    cr = line.rfind("\r")
    return line if cr < 0 else line[cr + 1 :]


class _Tee:
    """Wraps a text stream: writes pass through unchanged, complete lines go to ``sink``."""

    def __init__(self, original: TextIO, name: str, sink: LineSink) -> None:
        self._liftoff_original = original
        self._liftoff_name = name
        self._liftoff_sink: Optional[LineSink] = sink
        self._liftoff_buf: List[str] = []
        self._liftoff_buf_len = 0
        self._liftoff_lock = threading.Lock()

    # -- the stream API --------------------------------------------------------------
    def write(self, s: str) -> int:
        n = self._liftoff_original.write(s)
        if self._liftoff_sink is not None and s:
            try:
                self._liftoff_capture(s)
            except Exception:
                pass
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._liftoff_original.flush()

    def __getattr__(self, name: str) -> Any:
        # Everything else (encoding, isatty, fileno, buffer, errors, ...) is the original's.
        if name.startswith("_liftoff_"):
            raise AttributeError(name)
        return getattr(self._liftoff_original, name)

    def __repr__(self) -> str:
        return f"<liftoff tee of {self._liftoff_original!r}>"

    # -- capture -----------------------------------------------------------------------
    def _liftoff_capture(self, s: str) -> None:
        if not isinstance(s, str):
            return
        with self._liftoff_lock:
            buf = self._liftoff_buf
            if "\n" not in s:
                buf.append(s)
                self._liftoff_buf_len += len(s)
                if self._liftoff_buf_len > MAX_LINE_CHARS:
                    self._liftoff_compact()
                return
            if buf:
                buf.append(s)
                s = "".join(buf)
                buf.clear()
            parts = s.split("\n")
            rest = parts.pop()
            if rest:
                buf.append(rest)
            self._liftoff_buf_len = len(rest)
            sink = self._liftoff_sink
            if sink is None:
                return
            now = time.time()
            name = self._liftoff_name
            for line in parts:
                sink(name, _clean(line) if "\r" in line else line, now)
            if self._liftoff_buf_len > MAX_LINE_CHARS:
                self._liftoff_compact()

    def _liftoff_compact(self) -> None:
        """Bound a long partial line: keep what follows the last \\r, else emit it as a line."""
        text = "".join(self._liftoff_buf)
        cr = text.rfind("\r")
        if 0 <= cr and len(text) - cr <= MAX_LINE_CHARS:
            text = text[cr:]
            self._liftoff_buf[:] = [text]
            self._liftoff_buf_len = len(text)
            return
        self._liftoff_buf.clear()
        self._liftoff_buf_len = 0
        if self._liftoff_sink is not None:
            self._liftoff_sink(self._liftoff_name, _clean(text), time.time())

    def _liftoff_detach(self) -> None:
        """Emit the pending partial line and stop capturing (writes still pass through)."""
        with self._liftoff_lock:
            text = "".join(self._liftoff_buf)
            self._liftoff_buf.clear()
            self._liftoff_buf_len = 0
            sink, self._liftoff_sink = self._liftoff_sink, None
        if sink is not None and text:
            cleaned = _clean(text)
            if cleaned:
                sink(self._liftoff_name, cleaned, time.time())


class ConsoleCapture:
    """Installs tees on ``sys.stdout`` and ``sys.stderr``; ``stop()`` restores them."""

    def __init__(self, sink: LineSink) -> None:
        self._sink = sink
        self._tees: List[_Tee] = []

    def start(self) -> None:
        for name in ("stdout", "stderr"):
            original = getattr(sys, name)
            if original is None or isinstance(original, _Tee):
                continue
            tee = _Tee(original, name, self._sink)
            setattr(sys, name, tee)
            self._tees.append(tee)

    def stop(self) -> None:
        """Restore the original streams (when still ours) and emit pending partial lines."""
        tees, self._tees = self._tees, []
        for tee in tees:
            name = tee._liftoff_name
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._liftoff_original)
            # If someone wrapped our tee since, it stays in place as a plain pass-through.
            try:
                tee._liftoff_original.flush()
            except Exception:
                pass
            tee._liftoff_detach()

    def disable_in_child(self) -> None:
        """After fork(): stop capturing (the child has no sender) without touching streams."""
        for tee in self._tees:
            tee._liftoff_sink = None
        self._tees = []
