"""Settings resolution: explicit arguments > environment > user config file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

from ._api import Error

DEFAULT_PROJECT = "uncategorized"
DEFAULT_HEARTBEAT_SECONDS = 10.0
DEFAULT_FINISH_TIMEOUT = 30.0
DEFAULT_INIT_TIMEOUT = 30.0

ENV_BASE_URL = "LIFTOFF_BASE_URL"
ENV_API_KEY = "LIFTOFF_API_KEY"
ENV_PROJECT = "LIFTOFF_PROJECT"
ENV_ENTITY = "LIFTOFF_ENTITY"
ENV_RUN_ID = "LIFTOFF_RUN_ID"
ENV_RUN_NAME = "LIFTOFF_RUN_NAME"
ENV_CONFIG = "LIFTOFF_CONFIG"
ENV_CONSOLE = "LIFTOFF_CONSOLE"
ENV_HEARTBEAT = "LIFTOFF_HEARTBEAT_SECONDS"
ENV_MODE = "LIFTOFF_MODE"
ENV_JOB = "LIFTOFF_JOB"
ENV_RANK = "LIFTOFF_RANK"
ENV_ALL_RANKS = "LIFTOFF_ALL_RANKS"

_OFF = {"off", "false", "0", "no", "disabled"}
_ON = {"on", "true", "1", "yes", "auto", "wrap", "redirect"}
MODES = ("online", "disabled")

_LOGIN_HINT = (
    "run `liftoff login`, or set LIFTOFF_BASE_URL and LIFTOFF_API_KEY "
    "(or pass base_url= and api_key= to liftoff.init)"
)


def user_config_path() -> Path:
    """``$XDG_CONFIG_HOME/liftoff/config.json``, default ``~/.config/liftoff/config.json``."""
    xdg = os.environ.get("XDG_CONFIG_HOME")
    root = Path(xdg) if xdg else Path.home() / ".config"
    return root / "liftoff" / "config.json"


class Settings:
    """Resolved settings of a run (immutable). The API key never appears in ``repr()``.

    A plain class rather than a dataclass: importing ``dataclasses`` (and the ``inspect`` it
    pulls in) was a noticeable part of every script's start."""

    #: The fields, in constructor order.
    FIELDS: Tuple[str, ...] = (
        "base_url",
        "api_key",
        "project",
        "entity",
        "run_id",
        "run_name",
        "config_overrides",
        "console",
        "heartbeat_seconds",
        "mode",
        "init_timeout",
        "finish_timeout",
        "job",
    )
    __slots__ = FIELDS

    base_url: str
    api_key: str
    project: str
    entity: Optional[str]
    run_id: Optional[str]
    run_name: Optional[str]
    config_overrides: Dict[str, Any]
    console: bool
    heartbeat_seconds: float
    mode: str
    init_timeout: float
    finish_timeout: float
    #: Make a job version from the git checkout at init (``LIFTOFF_JOB``); never in a launched run.
    job: bool

    def __init__(
        self,
        base_url: str = "",
        api_key: str = "",
        project: str = DEFAULT_PROJECT,
        entity: Optional[str] = None,
        run_id: Optional[str] = None,
        run_name: Optional[str] = None,
        config_overrides: Optional[Dict[str, Any]] = None,
        console: bool = True,
        heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
        mode: str = "online",
        init_timeout: float = DEFAULT_INIT_TIMEOUT,
        finish_timeout: float = DEFAULT_FINISH_TIMEOUT,
        job: bool = False,
    ) -> None:
        values = locals()
        for name in Settings.FIELDS:
            object.__setattr__(self, name, values[name])
        object.__setattr__(self, "config_overrides", {} if config_overrides is None else config_overrides)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: Settings is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: Settings is immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in Settings.FIELDS)

    __hash__ = None  # type: ignore[assignment]  # holds a dict, as the dataclass it replaces did

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={(self.display_url if name == 'base_url' else getattr(self, name))!r}"
            for name in Settings.FIELDS
            if name != "api_key"
        )
        return f"Settings({fields})"

    @property
    def display_url(self) -> str:
        """The base URL without any user:password part, safe to print."""
        return redact_url(self.base_url)


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _read_user_config() -> Dict[str, Any]:
    path = user_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise Error(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise Error(f"{path} is not valid JSON; {_LOGIN_HINT}") from None
    if not isinstance(data, dict):
        raise Error(f"{path} must hold a JSON object; {_LOGIN_HINT}")
    return data


def _env(name: str) -> Optional[str]:
    value = os.environ.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _OFF:
        return False
    if text in _ON:
        return True
    raise Error(f"{name}: expected on/off, got {value!r}")


def _parse_seconds(name: str, value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise Error(f"{name}: expected a number of seconds, got {value!r}") from None
    if not (seconds > 0 and seconds < float("inf")):
        raise Error(f"{name}: must be a positive number of seconds, got {value!r}")
    return seconds


def _parse_config_overrides(raw: Optional[str]) -> Dict[str, Any]:
    if raw is None:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise Error(f"{ENV_CONFIG} is not valid JSON") from None
    if not isinstance(data, dict):
        raise Error(f"{ENV_CONFIG} must be a JSON object")
    return data


def _normalize_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Error(f"invalid base URL {redact_url(url)!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Error(
            f"invalid base URL {redact_url(url)!r}: expected http(s)://host[:port]"
        )
    return url


def resolve(
    *,
    base_url: Optional[str] = None,
    api_key: Optional[str] = None,
    project: Optional[str] = None,
    entity: Optional[str] = None,
    run_id: Optional[str] = None,
    name: Optional[str] = None,
    console: Any = None,
    heartbeat_seconds: Optional[float] = None,
    mode: Optional[str] = None,
    overrides: Any = None,
    warn: Optional[Callable[[str], None]] = None,
) -> Settings:
    """Resolve settings. ``overrides`` holds fields from a ``settings=`` argument: a mapping,
    or a :class:`Settings` whose fields that differ from the defaults count as given."""
    extra = _settings_overrides(overrides)

    def pick(explicit: Any, key: str, env_name: Optional[str]) -> Any:
        if explicit is not None:
            return explicit
        if extra.get(key) is not None:
            return extra[key]
        return _env(env_name) if env_name else None

    resolved_mode = str(pick(mode, "mode", ENV_MODE) or "online").lower()
    if resolved_mode == "offline":
        raise Error("mode='offline' is not supported; use 'online' or 'disabled'")
    if resolved_mode not in MODES:
        raise Error(f"unknown mode {resolved_mode!r}; expected one of {', '.join(MODES)}")
    # A multi-rank launch (srun) starts the script once per rank; rank 0 alone reports the
    # launch's one run unless the job asked for every rank (report_all_ranks sets LIFTOFF_ALL_RANKS).
    rank = _env(ENV_RANK)
    if rank is not None and rank != "0" and _env(ENV_ALL_RANKS) != "1":
        resolved_mode = "disabled"

    # A launched run: the launch's identity wins over what the script hard-codes, or the
    # pending run the agent created would never start.
    launch_id = _env(ENV_RUN_ID)
    if launch_id is not None:
        launch_fields = (
            ("id", run_id, launch_id),
            ("project", project, _env(ENV_PROJECT)),
            ("entity", entity, _env(ENV_ENTITY)),
        )
        for field_name, given, launched in launch_fields:
            if given is not None and launched is not None and str(given) != launched:
                if warn is not None:
                    warn(
                        f"this is a launched run; ignoring {field_name}={given!r} "
                        f"in favor of the launch's {launched!r}"
                    )
        run_id = launch_id
        project = _env(ENV_PROJECT) or project
        entity = _env(ENV_ENTITY) or entity

    file_config: Optional[Dict[str, Any]] = None

    def from_file(key: str) -> Optional[str]:
        nonlocal file_config
        if file_config is None:
            file_config = _read_user_config()
        value = file_config.get(key)
        return str(value) if value else None

    url = pick(base_url, "base_url", ENV_BASE_URL)
    key = pick(api_key, "api_key", ENV_API_KEY)
    if resolved_mode == "online":
        if url is None:
            url = from_file("base_url")
        if key is None:
            key = from_file("api_key")
        if not url:
            raise Error(f"no Liftoff server configured; {_LOGIN_HINT}")
        if not key:
            raise Error(f"no Liftoff API key configured; {_LOGIN_HINT}")
        url = _normalize_base_url(str(url))
        key = str(key).strip()

    console_value = pick(console, "console", ENV_CONSOLE)
    heartbeat = pick(heartbeat_seconds, "heartbeat_seconds", ENV_HEARTBEAT)

    job_value = pick(None, "job", ENV_JOB)
    kwargs: Dict[str, Any] = {"job": False if job_value is None else _parse_bool("job", job_value)}
    for timeout_field in ("init_timeout", "finish_timeout"):
        if extra.get(timeout_field) is not None:
            kwargs[timeout_field] = _parse_seconds(timeout_field, extra[timeout_field])

    return Settings(
        base_url=str(url or ""),
        api_key=str(key or ""),
        project=str(pick(project, "project", ENV_PROJECT) or DEFAULT_PROJECT),
        entity=_opt_str(pick(entity, "entity", ENV_ENTITY)),
        run_id=_opt_str(run_id if run_id is not None else extra.get("run_id")),
        run_name=_opt_str(pick(name, "run_name", ENV_RUN_NAME)),
        config_overrides=_parse_config_overrides(_env(ENV_CONFIG)),
        console=True if console_value is None else _parse_bool("console", console_value),
        heartbeat_seconds=(
            DEFAULT_HEARTBEAT_SECONDS
            if heartbeat is None
            else _parse_seconds(ENV_HEARTBEAT, heartbeat)
        ),
        mode=resolved_mode,
        **kwargs,
    )


# What ``settings=`` may set (config overrides only come from a launch's environment).
_SETTING_NAMES = frozenset(Settings.FIELDS) - {"config_overrides"}


def _settings_overrides(overrides: Any) -> Dict[str, Any]:
    if overrides is None:
        return {}
    if isinstance(overrides, Settings):
        defaults = Settings()
        return {
            name: getattr(overrides, name)
            for name in Settings.FIELDS
            if name in _SETTING_NAMES and getattr(overrides, name) != getattr(defaults, name)
        }
    if not isinstance(overrides, Mapping):
        raise TypeError(f"settings must be a dict or liftoff.Settings, not {type(overrides).__name__}")
    unknown = sorted(str(k) for k in overrides if k not in _SETTING_NAMES)
    if unknown:
        raise Error(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(_SETTING_NAMES))}"
        )
    return dict(overrides)


def _opt_str(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
