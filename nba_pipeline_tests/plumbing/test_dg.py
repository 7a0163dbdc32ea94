"""The `dg` CLI on the user's fixed layout ([tool.dg] in pyproject.toml): `dg check defs` loads the definitions,
`dg list defs` lists exactly what the one Definitions object holds, neither with a warning wall."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nba_pipeline.definitions import defs

ROOT = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).parent / "dg"


def _dg(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return subprocess.run([str(DG), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_dg_check_defs_loads_the_definitions_without_warnings(tmp_path):
    done = _dg("check", "defs", home=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stderr[-3000:]


def test_dg_list_defs_lists_every_asset_check_schedule_and_sensor(tmp_path):
    done = _dg("list", "defs", "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    listed = json.loads(done.stdout)
    assert {a["asset_key"] for a in listed["assets"]} == {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    declared = {f"{a.key.to_user_string()}:{spec.name}" for a in defs.assets for spec in a.check_specs}
    assert len(listed["asset_checks"]) == len(declared) > 0
    assert {s["name"] for s in listed["schedules"]} == {s.name for s in defs.schedules}
    assert {s["name"] for s in listed["sensors"]} == {s.name for s in defs.sensors}
