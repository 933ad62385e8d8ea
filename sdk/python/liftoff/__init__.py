"""Liftoff: log metrics, config and console output of ML runs to a Liftoff server.

The names follow the wandb client, so a script ports by changing its import::

    import liftoff

    run = liftoff.init(project="mnist", config={"lr": 1e-3})
    for step in range(1000):
        liftoff.log({"loss": loss, "acc": acc})
    liftoff.finish()

``liftoff.run``, ``liftoff.config`` and ``liftoff.summary`` refer to the current run (None or
a placeholder that raises when there is none).
"""

from __future__ import annotations

from typing import Optional, Union

from ._api import Error
from ._config import Config, Summary
from ._run import NO_CONFIG, NO_SUMMARY, Run, finish, init, log, login
from ._settings import Settings
from ._version import __version__

#: The current run, set by :func:`init` and reset by :func:`finish`.
run: Optional[Run] = None
#: The current run's config (a placeholder that raises while no run is active).
config: Union[Config, object] = NO_CONFIG
#: The current run's summary (a placeholder that raises while no run is active).
summary: Union[Summary, object] = NO_SUMMARY

__all__ = [
    "Config",
    "Error",
    "Run",
    "Settings",
    "Summary",
    "__version__",
    "config",
    "finish",
    "init",
    "log",
    "login",
    "run",
    "summary",
]
