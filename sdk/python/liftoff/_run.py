"""Runs: ``init``, ``Run.log``, ``Run.finish`` and the process exit hooks."""

from __future__ import annotations

import atexit
import operator
import os
import platform
import signal
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type, Union

import _thread

from ._api import Error, HttpClient, TransientError, path_segment
from ._config import Config, Summary, _items
from ._console import ConsoleCapture, OnceWarner, say
from ._sender import Sender
from ._settings import ENV_CONFIG, Settings, resolve
from ._values import Unsupported, nonfinite_text, to_json

# Exit code reported for a KeyboardInterrupt (as wandb does), and for the interrupt the SDK
# itself raises when the server asks the run to stop (128 + SIGINT; the server maps any code
# after a stop request to "killed").
EXIT_KEYBOARD_INTERRUPT = 255
EXIT_STOPPED = 130

# How long finish() keeps retrying POST /finish.
_FINISH_POST_SECONDS = 10.0

_current: Optional["Run"] = None
_current_lock = threading.RLock()


class _Drop:
    pass


_DROP = _Drop()


def _noop(_item: Any) -> None:
    pass


class Run:
    """A run: created by :func:`liftoff.init`, never directly.

    ``log()`` only queues data (a background thread sends it); ``finish()`` flushes and marks
    the run finished. As a context manager it finishes on exit, with exit code 1 if an
    exception escapes (255 for KeyboardInterrupt, the code of a SystemExit).
    """

    def __init__(
        self,
        settings: Settings,
        info: Mapping[str, Any],
        *,
        client: Optional[HttpClient],
        locked_config: Any = (),
    ) -> None:
        self._settings = settings
        self._client = client
        self._pid = os.getpid()
        self._warn_once = OnceWarner()
        self._id = str(info["id"])
        self._name = str(info.get("name") or self._id)
        self._project = str(info.get("project") or settings.project)
        entity = info.get("entity") or settings.entity
        self._entity: Optional[str] = str(entity) if entity else None
        self._state = str(info.get("state") or "running")

        self._step = 0
        self._pending: Dict[str, Any] = {}
        self._pending_touched = False
        self._log_lock = threading.Lock()
        self._finished = False
        self._finishing = False
        self._finish_lock = threading.Lock()
        self._stop_requested = False
        self._exit_code: Optional[int] = None

        self._sender: Optional[Sender] = None
        self._console: Optional[ConsoleCapture] = None
        self._append: Callable[[Any], None] = _noop

        config = info.get("config")
        summary = info.get("summary")
        self._summary_values: Dict[str, Any] = dict(summary) if isinstance(summary, dict) else {}
        self._config = Config(
            config if isinstance(config, dict) else {},
            on_change=self._config_changed,
            locked=locked_config,
            warn_once=self._warn_once,
        )
        self._summary = Summary(
            self._summary_values, on_change=self._summary_changed, warn_once=self._warn_once
        )
        log_lines = info.get("log_lines")
        self._log_offset = log_lines if type(log_lines) is int and log_lines > 0 else 0

    # -- identity ----------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)
        self._enqueue_patch("name", self._name)

    @property
    def project(self) -> str:
        return self._project

    @property
    def entity(self) -> Optional[str]:
        return self._entity

    @property
    def url(self) -> str:
        """The run's page on the server (base URL without credentials)."""
        if not self._settings.base_url:
            return ""
        return f"{self._settings.display_url}/runs/{path_segment(self._id)}"

    @property
    def config(self) -> Config:
        return self._config

    @property
    def summary(self) -> Summary:
        return self._summary

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` writes to."""
        return self._step

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def stop_requested(self) -> bool:
        """True once the server asked this run to stop."""
        return self._stop_requested

    @property
    def disabled(self) -> bool:
        return self._settings.mode == "disabled"

    def __repr__(self) -> str:
        state = "finished" if self._finished else "running"
        return f"<Run {self._name} ({self._id}) project={self._project!r} {state}>"

    # -- logging (hot path) ------------------------------------------------------------------
    def log(self, data: Mapping[str, Any], step: Optional[int] = None, commit: Optional[bool] = None) -> None:
        """Log a dict of values at the current step.

        Without ``step`` each call is one step (step auto-increments), unless ``commit=False``,
        which accumulates values into the current step until a committing call. With ``step``
        the values go to that step, which is committed once a later step is logged (or
        ``commit=True``); a step lower than the current one is dropped with a warning.
        NaN/Infinity values are sent as the strings "NaN"/"Infinity"/"-Infinity", which the server
        stores and shows as such.
        Never touches the network.
        """
        if self._finished:
            raise Error("this run is finished; call liftoff.init() to start a new one")
        if type(data) is not dict and not isinstance(data, Mapping):
            raise TypeError(f"log() takes a dict, not {type(data).__name__}")
        if step is not None and type(step) is not int:
            step = _as_step(step)
        row = {}
        for key, value in data.items():
            if type(key) is not str:
                raise TypeError(f"log() keys must be strings, got {type(key).__name__}: {key!r}")
            tv = type(value)
            if tv is float:
                if value - value != 0.0:  # NaN or +-Infinity: JSON has no such numbers
                    value = nonfinite_text(value)
            elif not (tv is int or tv is str or tv is bool or value is None):
                value = self._convert(key, value)
                if value is _DROP:
                    continue
            row[key] = value
        with self._log_lock:  # log() may be called from several threads
            if step is not None:
                if step != self._step:
                    if step < self._step:
                        self._warn_once(
                            "step-backwards",
                            f"log(step={step}) is below the current step {self._step}; steps "
                            "must increase, so that data is dropped (warned once)",
                        )
                        return
                    self._commit()
                    self._step = step
                if commit is None:
                    commit = False
            elif commit is None:
                commit = True
            if data:
                if self._pending:
                    self._pending.update(row)
                else:
                    self._pending = row
                self._pending_touched = True
            if commit:
                self._commit()

    def _commit(self) -> None:
        """Queue the current step's row (if any values were logged to it) and advance.
        Called with ``_log_lock`` held (or when no other thread can log)."""
        if not self._pending_touched:
            return
        row = self._pending
        if row:
            self._append((self._step, time.time(), row))
            self._summary_values.update(row)
            self._pending = {}
        self._pending_touched = False
        self._step += 1

    def _convert(self, key: str, value: Any) -> Any:
        try:
            return to_json(value, nonfinite_text=True)
        except Unsupported as exc:
            self._warn_once(
                ("unsupported", key),
                f"dropping {key!r}: {exc} values have no JSON form (warned once per key)",
            )
        except Exception as exc:  # a broken __float__/tolist: never raise in a training loop
            self._warn_once(("unsupported", key), f"dropping {key!r}: {exc!r} (warned once per key)")
        return _DROP

    # -- config / summary / name changes ------------------------------------------------------
    def _enqueue_patch(self, field: str, value: Any) -> None:
        if self._sender is not None and not self._finished and os.getpid() == self._pid:
            self._sender.enqueue_patch(field, value)

    def _config_changed(self, changes: Dict[str, Any]) -> None:
        self._enqueue_patch("config", changes)

    def _summary_changed(self, changes: Dict[str, Any]) -> None:
        self._enqueue_patch("summary", changes)

    # -- artifacts ----------------------------------------------------------------------------
    def log_artifact(
        self, path: str, name: str, type: str, aliases: Optional[List[str]] = None
    ) -> Dict[str, Any]:
        """Upload a file or directory as a version of artifact ``name`` in this run's project,
        produced by this run; only files the server lacks are sent. Returns the version."""
        from ._artifacts import log_artifact

        return log_artifact(self, path, name, type, aliases)

    def use_artifact(self, artifact: str) -> Any:
        """Record that this run uses ``name``, ``name:alias`` or ``name:vK`` and return it;
        ``.download(root=None)`` writes its files and returns the directory."""
        from ._artifacts import use_artifact

        return use_artifact(self, artifact)

    # -- lifecycle ----------------------------------------------------------------------------
    def _start(self) -> None:
        settings = self._settings
        if settings.mode == "disabled" or self._client is None:
            return
        _make_interruptible()
        sender_client = HttpClient(settings.base_url, settings.api_key, entity=settings.entity)
        self._sender = Sender(
            sender_client,
            self._id,
            heartbeat_seconds=settings.heartbeat_seconds,
            on_stop_requested=self._on_stop_requested,
            log_offset=self._log_offset,
            warn_once=self._warn_once,
        )
        self._append = self._sender.queue.append
        self._sender.start()
        if settings.console:
            self._console = ConsoleCapture(self._sender.enqueue_line)
            self._console.start()

    def _on_stop_requested(self) -> None:
        """Called on the sender thread when a heartbeat says the run should stop."""
        self._stop_requested = True
        if self._finishing or self._finished:
            return
        say(f"run {self._name} ({self._id}) was asked to stop; interrupting the script")
        _interrupt_main_thread()

    def finish(self, exit_code: Optional[int] = None, quiet: Optional[bool] = None) -> None:
        """Send everything still queued (waiting at most ``finish_timeout``, 30 s by default),
        mark the run finished (exit code 0) or failed (non-zero), restore stdout/stderr and stop
        the background thread. Calling it again does nothing."""
        code = 0 if exit_code is None else int(exit_code)
        with self._finish_lock:
            if self._finished or self._finishing:
                return
            self._finishing = True
        if os.getpid() != self._pid:  # a forked child must not finish its parent's run
            return
        self._exit_code = code
        interrupted: Optional[BaseException] = None
        reported = True
        try:
            try:
                with self._log_lock:
                    self._commit()
            except Exception:
                pass
            if self._console is not None:
                self._console.stop()
            if self._sender is not None:
                try:
                    drained = self._drain()
                except KeyboardInterrupt as exc:
                    interrupted = exc
                    drained = False
                    say(f"interrupted: {self._sender.pending} queued items were not sent")
                    self._sender.abort()
                # Not drained: the server is probably unreachable, so do not wait long.
                reported = self._post_finish(code, _FINISH_POST_SECONDS if drained else 2.0)
        finally:
            self._finished = True
            self._append = _noop
            if self._client is not None:
                self._client.close()
            _unpublish(self)
        if reported and not quiet and not self.disabled:
            if self._stop_requested:
                outcome = f"stopped (exit code {code})"
            else:
                outcome = "finished" if code == 0 else f"failed (exit code {code})"
            say(f"run {self._name} ({self._id}) {outcome}")
        if interrupted is not None:
            raise interrupted

    def _drain(self) -> bool:
        """Wait for the sender to send everything; False if it could not within the timeout."""
        assert self._sender is not None
        timeout = self._settings.finish_timeout
        unsent = self._sender.close(
            timeout,
            on_slow=lambda n: say(f"waiting up to {timeout:g} s to send {n} queued items..."),
        )
        if unsent:
            say(f"could not send {unsent} queued items within {timeout:g} s; they are lost")
        return unsent == 0

    def _post_finish(self, code: int, seconds: float) -> bool:
        assert self._client is not None
        deadline = time.monotonic() + seconds
        try:
            reply = self._client.call(
                "POST",
                f"/api/v1/runs/{path_segment(self._id)}/finish",
                {"exit_code": code},
                deadline=deadline,
            )
        except TransientError as exc:
            say(f"could not mark the run finished ({exc}); the server will mark it crashed")
            return False
        except Error as exc:
            say(f"could not mark the run finished: {exc}")
            return False
        if isinstance(reply, dict) and isinstance(reply.get("state"), str):
            self._state = reply["state"]
        return True

    def __enter__(self) -> "Run":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc is None:
            self.finish(0)
            return
        if self._console is not None and self._sender is not None and not isinstance(exc, SystemExit):
            # The traceback is printed by the interpreter only after the run is finished:
            # put it in the run's console log now.
            now = time.time()
            import traceback  # only on a failure: most scripts never need it

            text = "".join(traceback.format_exception(exc_type, exc, tb))
            for line in text.rstrip("\n").split("\n"):
                self._sender.enqueue_line("stderr", line, now)
        self.finish(self._exit_code_for(exc))

    def _exit_code_for(self, exc: BaseException) -> int:
        if isinstance(exc, SystemExit):
            return _system_exit_code(exc.code)
        if isinstance(exc, KeyboardInterrupt):
            return EXIT_STOPPED if self._stop_requested else EXIT_KEYBOARD_INTERRUPT
        return 1

    def _forked(self) -> None:
        """In a forked child: drop everything (the sender thread does not exist there)."""
        self._append = _noop
        if self._console is not None:
            self._console.disable_in_child()
        self._sender = None


def _as_step(step: Any) -> int:
    if isinstance(step, bool):
        raise TypeError("step must be an int, not bool")
    try:
        return operator.index(step)
    except TypeError:
        raise TypeError(f"step must be an int, not {type(step).__name__}") from None


def _system_exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return int(code)
    return 1  # sys.exit("message") prints the message and exits with 1


# Set just before the SDK interrupts the main thread, so the handler _make_interruptible
# installs knows a SIGINT is the SDK's stop and not a Ctrl-C the script chose to ignore.
_stop_interrupt = threading.Event()


def _make_interruptible() -> None:
    """Let a stop request interrupt a script that does not handle SIGINT itself.

    A script started with SIGINT ignored (``&`` in a non-interactive shell makes it SIG_IGN) or
    set to SIG_DFL gets no KeyboardInterrupt from ``interrupt_main`` or from the signal, so a
    stop would print "interrupting the script" and the script would run on. A handler of the
    SDK's own takes the signal instead: the SDK's stop raises KeyboardInterrupt, any other
    SIGINT keeps the disposition the script had."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal works only there; a thread's init keeps today's behaviour
    try:
        previous = signal.getsignal(signal.SIGINT)
    except (ValueError, AttributeError):
        return
    if callable(previous):
        return

    def on_sigint(signum: int, frame: Any) -> None:
        if _stop_interrupt.is_set():
            _stop_interrupt.clear()
            raise KeyboardInterrupt
        if previous == signal.SIG_DFL:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)

    try:
        signal.signal(signal.SIGINT, on_sigint)
    except (ValueError, OSError):
        pass


def _interrupt_main_thread() -> None:
    """Raise KeyboardInterrupt in the main thread, like Ctrl-C: when Python handles SIGINT,
    send the signal to the main thread itself so a blocking call (sleep, I/O) wakes up;
    otherwise fall back to ``_thread.interrupt_main()``."""
    _stop_interrupt.set()
    try:
        main = threading.main_thread()
        if callable(signal.getsignal(signal.SIGINT)) and hasattr(signal, "pthread_kill") and main.ident:
            signal.pthread_kill(main.ident, signal.SIGINT)
            return
    except (OSError, ValueError, RuntimeError):
        pass
    _thread.interrupt_main()


# -- the current run, module-level names ---------------------------------------------------------


class _NoRun:
    """Stands in for ``liftoff.config``/``liftoff.summary`` while no run is active."""

    def __init__(self, what: str) -> None:
        object.__setattr__(self, "_what", what)

    def _fail(self, *_args: Any, **_kwargs: Any) -> Any:
        raise Error(f"call liftoff.init() before using liftoff.{self._what}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._fail()

    __setattr__ = _fail
    __getitem__ = _fail
    __setitem__ = _fail
    __delitem__ = _fail
    __contains__ = _fail
    __iter__ = _fail
    __len__ = _fail

    def __repr__(self) -> str:
        return f"<liftoff.{self._what}: no active run>"


NO_CONFIG = _NoRun("config")
NO_SUMMARY = _NoRun("summary")


def _publish(run: Optional[Run]) -> None:
    global _current
    with _current_lock:
        _current = run
    package = sys.modules.get(__package__ or "liftoff")
    if package is not None:
        package.run = run  # type: ignore[attr-defined]
        package.config = run.config if run is not None else NO_CONFIG  # type: ignore[attr-defined]
        package.summary = run.summary if run is not None else NO_SUMMARY  # type: ignore[attr-defined]


def _unpublish(run: Run) -> None:
    with _current_lock:
        if _current is run:
            _publish(None)


def current_run() -> Optional[Run]:
    return _current


def log(data: Mapping[str, Any], step: Optional[int] = None, commit: Optional[bool] = None) -> None:
    """Log values to the current run (see :meth:`Run.log`)."""
    run = _current
    if run is None:
        raise Error("call liftoff.init() before liftoff.log()")
    run.log(data, step, commit)


def finish(exit_code: Optional[int] = None, quiet: Optional[bool] = None) -> None:
    """Finish the current run, if any (see :meth:`Run.finish`)."""
    run = _current
    if run is not None:
        run.finish(exit_code, quiet=quiet)


def init(
    project: Optional[str] = None,
    entity: Optional[str] = None,
    name: Optional[str] = None,
    config: Any = None,
    id: Optional[str] = None,
    *,
    base_url: Optional[str] = None,
    api_key: Optional[str] = None,
    console: Any = None,
    mode: Optional[str] = None,
    reinit: bool = False,
    settings: Union[Mapping[str, Any], Settings, None] = None,
    **unsupported: Any,
) -> Run:
    """Start a run (or attach to the pending run of a launch) and return it.

    Settings come from explicit arguments, then the environment (``LIFTOFF_BASE_URL``,
    ``LIFTOFF_API_KEY``, ``LIFTOFF_PROJECT``, ``LIFTOFF_ENTITY``, ``LIFTOFF_RUN_NAME``, ...),
    then ``~/.config/liftoff/config.json``. In a launched run (``LIFTOFF_RUN_ID`` set) the
    launch's id/project/entity win, and ``LIFTOFF_CONFIG`` overrides ``config`` (without it, the
    launch's config comes from the pending run on the server).

    ``settings`` (a dict or :class:`liftoff.Settings`) may hold: base_url, api_key, project,
    entity, run_id, run_name, console, heartbeat_seconds, mode ("online" or "disabled"),
    init_timeout, finish_timeout. Other wandb.init arguments
    (tags, notes, group, job_type, dir, resume, ...) are accepted and ignored with a warning.
    With a run already active, ``init`` returns it, unless ``reinit=True`` which finishes it
    first.
    """
    active = _current
    if active is not None and not active.finished and os.getpid() == active._pid:
        if not reinit:
            say(f"a run is already active ({active.name}); returning it (pass reinit=True for a new run)")
            return active
        active.finish()

    ignored = sorted(k for k, v in unsupported.items() if v is not None)
    if ignored:
        say(f"init() ignores these wandb arguments: {', '.join(ignored)}")

    resolved = resolve(
        base_url=base_url,
        api_key=api_key,
        project=project,
        entity=entity,
        run_id=id,
        name=name,
        console=console,
        mode=mode,
        overrides=settings,
        warn=say,
    )

    base_config: Dict[str, Any] = {}
    if config is not None:
        base_config = {str(k): to_json(v, strict=False) for k, v in _items(config, {})}
    overrides = {str(k): to_json(v, strict=False) for k, v in resolved.config_overrides.items()}

    if resolved.mode == "disabled":
        import secrets  # only for a disabled run's local id

        info: Dict[str, Any] = {
            "id": resolved.run_id or secrets.token_hex(4),
            "name": resolved.run_name,
            "project": resolved.project,
            "entity": resolved.entity,
            "config": {**base_config, **overrides},
        }
        run = Run(resolved, info, client=None, locked_config=overrides.keys())
        _publish(run)
        return run

    launched = bool(os.environ.get("LIFTOFF_RUN_ID")) and resolved.run_id == os.environ.get("LIFTOFF_RUN_ID")
    client = HttpClient(resolved.base_url, resolved.api_key, entity=resolved.entity)
    if launched and ENV_CONFIG not in os.environ:
        overrides = _launch_config(client, resolved)
    run_config = {**base_config, **overrides}

    body: Dict[str, Any] = {"project": resolved.project, "config": run_config}
    if resolved.entity:
        body["entity"] = resolved.entity
    if resolved.run_id:
        body["id"] = resolved.run_id
    if resolved.run_name:
        body["name"] = resolved.run_name
    body.update(_host_info())

    def on_retry(exc: TransientError, attempt: int, _delay: float) -> None:
        if attempt == 1:
            say(f"{exc}; retrying for up to {resolved.init_timeout:g} s")

    try:
        reply = client.call(
            "POST",
            "/api/v1/runs",
            body,
            deadline=time.monotonic() + resolved.init_timeout,
            # Creating a run is not idempotent: only resend when it certainly did not happen. Attaching
            # to a launched run is (the server gives the run back to its own launch's key).
            retry_if=lambda exc: launched or not exc.maybe_processed,
            on_retry=on_retry,
        )
    except Error:
        client.close()
        raise
    if not isinstance(reply, dict) or not reply.get("id"):
        client.close()
        raise Error("POST /api/v1/runs: the server's answer has no run id")

    run = Run(resolved, reply, client=client, locked_config=overrides.keys())
    say(f"run {run.name} ({run.id}) -> {run.url}")
    _hooks.install()
    run._start()
    _publish(run)
    if _wants_job(resolved):
        from ._artifacts import create_job_from_checkout

        try:
            create_job_from_checkout(run, run_config)
        except Error as exc:
            say(f"could not create a job from this checkout: {exc}")
    return run


def _launch_config(client: HttpClient, resolved: Settings) -> Dict[str, Any]:
    """A launched run whose agent could not pass ``LIFTOFF_CONFIG`` (SageMaker caps an environment
    value at 512 characters) takes the launch's config from the pending run the launch created."""
    try:
        reply = client.call(
            "GET",
            "/api/v1/runs/" + path_segment(resolved.run_id or ""),
            deadline=time.monotonic() + resolved.init_timeout,
        )
    except Error:
        client.close()
        raise
    config = reply.get("config") if isinstance(reply, dict) else None
    if not isinstance(config, dict):
        client.close()
        raise Error("GET /api/v1/runs/{id}: the launched run's answer has no config object")
    return config


def _wants_job(settings: Settings) -> bool:
    """``settings={"job": True}`` or ``LIFTOFF_JOB=on``: make a job version from the git checkout (off by
    default, and never in a launched run, whose job already exists)."""
    if os.environ.get("LIFTOFF_RUN_ID"):
        return False
    return settings.job


def _host_info() -> Dict[str, str]:
    info: Dict[str, str] = {}
    sources: List[Tuple[str, Callable[[], str]]] = [
        ("host", socket.gethostname),
        ("os", platform.platform),
        ("program", lambda: sys.argv[0] if sys.argv and sys.argv[0] else "<python>"),
        ("python_version", platform.python_version),
    ]
    for field, get in sources:
        try:
            info[field] = str(get())
        except Exception:
            pass
    return info


def login(key: Optional[str] = None, host: Optional[str] = None, **_ignored: Any) -> bool:
    """Check the credentials (``GET /api/v1/viewer``), as ``wandb.login()`` does.

    ``key``/``host`` are used for this process's later ``init()`` calls (through
    ``LIFTOFF_API_KEY``/``LIFTOFF_BASE_URL``); nothing is written to disk: ``liftoff login``
    on the command line stores credentials. Raises :class:`Error` if they are wrong.
    """
    resolved = resolve(base_url=host, api_key=key)
    client = HttpClient(resolved.base_url, resolved.api_key)
    try:
        client.request("GET", "/api/v1/viewer")
    finally:
        client.close()
    if key:
        os.environ["LIFTOFF_API_KEY"] = key
    if host:
        os.environ["LIFTOFF_BASE_URL"] = resolved.base_url
    return True


# -- process exit ---------------------------------------------------------------------------


class _ExitHooks:
    """Finishes the current run when the script ends: exit code 0 normally, the code given to
    ``sys.exit``, 1 after an unhandled exception (255 for KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.installed = False
        self.exit_code: Optional[int] = None
        self._orig_exit: Callable[..., Any] = sys.exit
        self._orig_excepthook: Callable[..., Any] = sys.excepthook

    def install(self) -> None:
        if self.installed:
            return
        self.installed = True
        self._orig_exit = sys.exit
        self._orig_excepthook = sys.excepthook
        sys.exit = self._exit  # type: ignore[assignment]
        sys.excepthook = self._excepthook
        atexit.register(self._atexit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)

    def _exit(self, code: Any = None) -> None:
        if threading.current_thread() is threading.main_thread():
            self.exit_code = _system_exit_code(code)
        self._orig_exit(code)

    def _excepthook(self, etype: Type[BaseException], value: BaseException, tb: Optional[TracebackType]) -> None:
        run = _current
        try:
            self._orig_excepthook(etype, value, tb)
        finally:
            if run is not None and not run.finished and os.getpid() == run._pid:
                try:
                    run.finish(run._exit_code_for(value))
                except BaseException as exc:  # never hide the original error
                    say(f"could not finish the run: {exc!r}")

    def _atexit(self) -> None:
        run = _current
        if run is None or run.finished or os.getpid() != run._pid:
            return
        code = 0 if self.exit_code is None else self.exit_code
        if self.exit_code is None and not _interactive():
            # An unhandled exception whose traceback went through a replaced sys.excepthook
            # (the interpreter sets sys.last_value before calling the hook).
            last = getattr(sys, "last_value", None)
            if isinstance(last, BaseException):
                code = run._exit_code_for(last)
        try:
            run.finish(code)
        except BaseException as exc:
            say(f"could not finish the run: {exc!r}")

    def _after_fork_in_child(self) -> None:
        run = _current
        if run is not None:
            run._forked()


def _interactive() -> bool:
    return bool(getattr(sys, "ps1", None)) or bool(sys.flags.interactive)


_hooks = _ExitHooks()

__all__: List[str] = ["Run", "init", "log", "finish", "login", "current_run"]
