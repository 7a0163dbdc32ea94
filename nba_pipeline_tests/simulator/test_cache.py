"""The simulator's seasons on disk: a fresh process reads the season an earlier one built, identical to a build."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

from nba_pipeline.simulator import cache
from nba_pipeline.simulator.feeds import _league
from nba_pipeline.simulator.games import simulate_season
from nba_pipeline.league.seasons import SEASON_BY_LABEL

FETCH = """
import datetime as dt, sys
from nba_pipeline.simulator import LeagueSimulator
from nba_pipeline.simulator import feeds
built = []
original = feeds.simulate_season
feeds.simulate_season = lambda *a: built.append(1) or original(*a)
frame = LeagueSimulator(seed=2021).fetch("player_boxscores", dt.date(2023, 12, 16), dt.date(2023, 12, 16))
frame.to_pickle(sys.argv[1])
print(len(built))
"""


def _fetch_in_new_process(cache_dir: Path, out: Path) -> int:
    done = subprocess.run([sys.executable, "-c", FETCH, str(out)], env={"NBA_PIPELINE_CACHE_DIR": str(cache_dir), "PATH": ""},
                          capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_a_second_process_reads_the_season_the_first_built(tmp_path):
    assert _fetch_in_new_process(tmp_path / "c", tmp_path / "first.pkl") == 1  # built
    files = list((tmp_path / "c" / "simulator").glob("season-2021-2023-24-*.pkl"))
    assert len(files) == 1
    assert _fetch_in_new_process(tmp_path / "c", tmp_path / "second.pkl") == 0  # read, not built
    pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / "first.pkl"), pd.read_pickle(tmp_path / "second.pkl"))
    assert not list((tmp_path / "c" / "simulator").glob(".*"))  # no temporary file left behind


def test_a_cached_season_equals_a_fresh_build(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    build = lambda: simulate_season(_league(2021), SEASON_BY_LABEL["2022-23"], 2021)  # noqa: E731
    first = cache.cached("season-2021-2022-23", build)
    again = cache.cached("season-2021-2022-23", lambda: (_ for _ in ()).throw(AssertionError("rebuilt")))
    for field in ("schedule", "player_games", "team_games", "injuries", "props", "referees", "shot_zones"):
        pd.testing.assert_frame_equal(getattr(again, field), getattr(build(), field))
        pd.testing.assert_frame_equal(getattr(again, field), getattr(first, field))


def test_a_truncated_file_is_rebuilt_and_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    cache.cached("thing", lambda: list(range(1000)))
    (path,) = (tmp_path / "simulator").glob("thing-*.pkl")
    path.write_bytes(path.read_bytes()[:20])
    assert cache.cached("thing", lambda: [1, 2]) == [1, 2]
    assert cache.cached("thing", lambda: [3]) == [1, 2]


def test_the_key_changes_with_the_simulator_code(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    cache.cached("thing", lambda: "old code")
    monkeypatch.setattr(cache, "code_digest", lambda: "another-version")
    assert cache.cached("thing", lambda: "new code") == "new code"
    assert len(list((tmp_path / "simulator").glob("thing-*.pkl"))) == 2


def test_off_builds_every_time(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, cache.OFF)
    assert cache.cached("thing", lambda: 1) == 1
    assert cache.cached("thing", lambda: 2) == 2
