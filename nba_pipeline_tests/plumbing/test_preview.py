"""The Beta/Preview list is exact: loading the definitions warns about every acknowledged feature when asked to
show them, and about nothing once they are acknowledged (a new Beta feature would still warn)."""

from __future__ import annotations

import os
import subprocess
import sys

from nba_pipeline.plumbing.preview import ACKNOWLEDGED, SHOW

LOAD = "import nba_pipeline.definitions as d; d.defs.resolve_all_asset_keys()"


def _load(show: str) -> str:
    env = {**os.environ, SHOW: show}
    done = subprocess.run([sys.executable, "-W", "default", "-c", LOAD], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def test_every_acknowledged_feature_is_one_dagster_still_warns_about():
    shown = _load("show")
    for message in ACKNOWLEDGED:
        assert message in shown, f"Dagster no longer warns about {message!r}: drop it from ACKNOWLEDGED"


def test_loading_the_definitions_warns_about_nothing_acknowledged_and_nothing_else():
    hidden = _load("hide")
    assert "Warning" not in hidden, hidden[-3000:]
