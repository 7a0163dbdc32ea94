"""`python -m nba_pipeline.plumbing.dagster_cli …` is Dagster's own CLI (`dagster …`, same arguments) without Dagster's API
stability notes (Beta/Preview/Supersession warnings): printed once per decorated asset at import, they were most of
what `make run` showed before its first step started."""

from __future__ import annotations

import gc
import runpy
import warnings

import dagster as dg

for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
    warnings.filterwarnings("ignore", category=category)

if __name__ == "__main__":
    try:
        runpy.run_module("dagster", run_name="__main__", alter_sys=True)
    finally:
        # The command is over (its instance disposed, its output written). What is left is the interpreter's
        # final garbage collection over every object Dagster and the run made: ~1 s after a one-date run.
        # Frozen, they are left to the process exit; atexit handlers still run and output is still flushed.
        gc.freeze()
