"""The simulator's seasons on disk: a process builds a season once per code version, not once per process.

Building a season (and the league behind it) takes ~1.8 s; a one-date run starts a fresh process and paid it on
every run. A built season is pickled to `<cache dir>/simulator/<key>.pkl`, where the key digests the seed, the
season, the simulator's and league's source code, and the Python, NumPy and pandas versions: a change to any of
them is a different file, never a stale season. The cache directory is `NBA_PIPELINE_CACHE_DIR`, else
`$XDG_CACHE_HOME/nba_pipeline`, else `~/.cache/nba_pipeline`; `NBA_PIPELINE_CACHE_DIR=off` builds every time.

A file is written to a temporary name and renamed, so a reader sees a whole season or none, and two processes
building the same season at once both end with the same file. A file that cannot be read (truncated, from a
foreign writer) is rebuilt. The files are pickles: the directory must be writable only by the user running the
pipeline, like the warehouse itself.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TypeVar

CACHE_ENV = "NBA_PIPELINE_CACHE_DIR"
OFF = "off"
_CODE = ("nba_pipeline.simulator.games", "nba_pipeline.simulator.players", "nba_pipeline.simulator.schedule",
         "nba_pipeline.league.seasons", "nba_pipeline.league.teams")

T = TypeVar("T")


def cache_dir() -> Path | None:
    configured = os.environ.get(CACHE_ENV)
    if configured == OFF:
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nba_pipeline"


@cache
def code_digest() -> str:
    import numpy
    import pandas

    digest = hashlib.sha256(f"{sys.version_info[:2]} numpy {numpy.__version__} pandas {pandas.__version__}".encode())
    for name in _CODE:
        digest.update(Path(sys.modules[name].__file__).read_bytes())
    return digest.hexdigest()[:16]


def cached(name: str, build: Callable[[], T]) -> T:
    """`build()`, or what an earlier process stored under `name` for the same code."""
    folder = cache_dir()
    if folder is None:
        return build()
    path = folder / "simulator" / f"{name}-{code_digest()}.pkl"
    try:
        with path.open("rb") as file:
            return pickle.load(file)
    except Exception:  # noqa: BLE001  (absent, truncated or foreign: build it and replace it)
        pass
    value = build()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
            pickle.dump(value, tmp, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp.name, path)
    except OSError:  # a read-only or full disk only costs the next process the build
        if tmp is not None:
            Path(tmp.name).unlink(missing_ok=True)
    return value
