"""``run.config`` and ``run.summary``: dict-like objects whose changes are sent to the server."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, Optional, Tuple

from ._api import Error
from ._console import OnceWarner
from ._values import NonFinite, Unsupported, to_json

OnChange = Callable[[Dict[str, Any]], None]


def _items(data: Any, kwargs: Mapping[str, Any]) -> Iterable[Tuple[Any, Any]]:
    """Items of a mapping, an argparse.Namespace-like object, or keyword arguments."""
    if data is None:
        pass
    elif isinstance(data, Mapping):
        yield from data.items()
    elif hasattr(data, "items") and callable(data.items):
        yield from data.items()
    elif hasattr(data, "__dict__"):
        yield from ((k, v) for k, v in vars(data).items() if not k.startswith("_"))
    else:
        raise TypeError(f"expected a dict (or an object with attributes), got {type(data).__name__}")
    yield from kwargs.items()


class _DictLike:
    """Read access shared by Config and Summary: items and attributes."""

    _data: Dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__.lower()} has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:  # overridden
        raise NotImplementedError

    def __delitem__(self, key: str) -> None:
        raise Error(f"{type(self).__name__.lower()} keys cannot be deleted")

    def __delattr__(self, name: str) -> None:
        self.__delitem__(name)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _DictLike):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __dir__(self) -> Iterable[str]:
        return list(super().__dir__()) + [k for k in self._data if k.isidentifier()]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self._data.keys()

    def values(self) -> Any:
        return self._data.values()

    def items(self) -> Any:
        return self._data.items()

    def as_dict(self) -> Dict[str, Any]:
        """A deep copy as a plain dict."""
        import copy  # imported when first asked: it costs every script's start otherwise

        return copy.deepcopy(dict(self._data))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


class Config(_DictLike):
    """The run's configuration (hyper-parameters).

    ``config.lr``, ``config["lr"]``, ``config.lr = 0.1``, ``config.update({...})``. Values are
    stored as plain JSON data and changes are sent to the server (merged key by key). Keys set
    by a launch (``LIFTOFF_CONFIG``) are locked: the script cannot change them, so the
    launch's values win (a one-time warning per key says so).
    """

    def __init__(
        self,
        data: Optional[Mapping[str, Any]] = None,
        *,
        on_change: Optional[OnChange] = None,
        locked: Iterable[str] = (),
        warn_once: Optional[OnceWarner] = None,
    ) -> None:
        self._data = dict(data or {})
        self._on_change = on_change
        self._locked = frozenset(locked)
        self._warn_once = warn_once or OnceWarner()

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, d: Any = None, allow_val_change: Optional[bool] = None, **kwargs: Any) -> None:
        """Merge keys into the config. ``d`` may be a dict or an ``argparse.Namespace``.
        ``allow_val_change`` is accepted for wandb compatibility (values may always change)."""
        changes: Dict[str, Any] = {}
        for key, value in _items(d, kwargs):
            if not isinstance(key, str):
                raise TypeError(f"config keys must be strings, got {type(key).__name__}")
            value = to_json(value, strict=False)
            current = self._data.get(key, _MISSING)
            if key in self._locked:
                if current != value:
                    self._warn_once(
                        ("config-locked", key),
                        f"config[{key!r}] is set by the launch to {current!r}; "
                        f"ignoring the script's value {value!r}",
                    )
                continue
            if current is _MISSING or current != value or type(current) is not type(value):
                changes[key] = value
                self._data[key] = value
        if changes and self._on_change is not None:
            self._on_change(changes)

    def setdefaults(self, d: Any = None, **kwargs: Any) -> None:
        """Set only the keys that are not set yet."""
        self.update({k: v for k, v in _items(d, kwargs) if k not in self._data})


class Summary(_DictLike):
    """The run's summary: the last logged value of each key, unless set explicitly.

    ``summary["best_acc"] = 0.93`` (or ``.update({...})``) is sent to the server; logged values
    are summarized by the server itself and only mirrored here.
    """

    def __init__(
        self,
        data: Dict[str, Any],
        *,
        on_change: Optional[OnChange] = None,
        warn_once: Optional[OnceWarner] = None,
    ) -> None:
        self._data = data  # shared with the run, which mirrors logged values into it
        self._on_change = on_change
        self._warn_once = warn_once or OnceWarner()

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, d: Any = None, **kwargs: Any) -> None:
        changes: Dict[str, Any] = {}
        for key, value in _items(d, kwargs):
            if not isinstance(key, str):
                raise TypeError(f"summary keys must be strings, got {type(key).__name__}")
            try:
                value = to_json(value)
            except NonFinite:
                self._warn_once(
                    ("summary-nonfinite", key),
                    f"summary[{key!r}] is NaN or infinite, which JSON cannot carry; not set",
                )
                continue
            except Unsupported:
                value = str(value)
            changes[key] = value
        if changes:
            self._data.update(changes)
            if self._on_change is not None:
                self._on_change(changes)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
