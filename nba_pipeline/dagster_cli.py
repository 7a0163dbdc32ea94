"""`python -m nba_pipeline.dagster_cli …` is Dagster's own CLI (`dagster …`, same arguments) without Dagster's API
stability notes (Beta/Preview/Supersession warnings): printed once per decorated asset at import, they were most of
what `make run` showed before its first step started."""

from __future__ import annotations

import runpy
import warnings

import dagster as dg

for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
    warnings.filterwarnings("ignore", category=category)

if __name__ == "__main__":
    runpy.run_module("dagster", run_name="__main__", alter_sys=True)
