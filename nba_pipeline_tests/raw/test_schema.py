"""Every raw feed's declared schema, enforced by a blocking `matches_schema` check that names the offending rows.

Pure tests of the rules first (no Dagster), then hostile rows through real materializations of the raw assets on
a DuckDB file: from the simulator (fault injection) and from the season replay (small hostile files in its format).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json

import dagster as dg
import pandas as pd
import pytest

from nba_pipeline import schemas
from nba_pipeline.checks import names
from nba_pipeline.checks.rules import CheckInputs
from nba_pipeline.config import load_thresholds
from nba_pipeline.raw.assets import raw_assets
from nba_pipeline.raw.checks import PLAYER_BOXSCORE_RULES
from nba_pipeline.raw.schema_check import schema_problems
from nba_pipeline.resources import resources_for
from nba_pipeline.simulator import LeagueSimulator, SimulatorFaults
from nba_pipeline.sources import SeasonReplaySource
from nba_pipeline.sources.nba_stats import parse_boxscore_traditional_v2
from nba_pipeline.sources.replay import BOX_SCORES_FILE, DATA_DIR, GAMES_FILE
from nba_pipeline_tests.conftest import REAL_API, read_table, run_range, run_results

DAY, NEXT = "2024-01-15", "2024-01-16"
CONTRACT = schemas.PLAYER_BOXSCORES_CONTRACT


@pytest.fixture(scope="module")
def clean_box() -> pd.DataFrame:
    sim = LeagueSimulator()
    return schemas.conform_raw(sim.fetch("player_boxscores", dt.date(2024, 1, 15), dt.date(2024, 1, 16)), "player_boxscores")


# -- the contract and its rules, without Dagster ------------------------------------------------------------------
def test_every_raw_asset_has_a_blocking_schema_check_generated_from_its_contract():
    assert {a.key.path[-1] for a in raw_assets} == set(schemas.RAW_CONTRACTS)
    for asset in raw_assets:
        feed = asset.key.path[-1]
        specs = {spec.name: spec for spec in asset.check_specs}
        assert names.MATCHES_SCHEMA in specs and specs[names.MATCHES_SCHEMA].blocking, feed
        assert list(schemas.RAW_SCHEMAS[feed]) == [*schemas.RAW_CONTRACTS[feed], schemas.UNREADABLE]


def test_clean_feeds_keep_their_contracts(clean_box):
    assert (schema_problems(clean_box, CONTRACT) == "").all()
    dnp = clean_box["minutes"].isna()
    assert dnp.any() and clean_box.loc[dnp, "pts"].isna().all()  # a DNP row has no stats, and that is allowed


@pytest.mark.parametrize(
    "column, value, said",
    [
        ("minutes", "-26:00", "minutes='-26:00' is not a game clock"),
        ("minutes", "71:00", "minutes='71:00' outside 0–70"),
        ("player_name", "<b>LeBron James</b>", "player_name='<b>LeBron James</b>' is not a person's name"),
        ("ast", -1, "ast='-1' outside 0–"),
        ("game_id", "0022300 609", "game_id='0022300 609' is not a game id"),
        ("player_id", None, "player_id missing"),
        ("pts", None, "pts missing though minutes is given"),
    ],
)
def test_each_broken_value_is_named_with_its_column(clean_box, column, value, said):
    box = clean_box.copy()
    row = box.index[box["minutes"].notna()][3]
    box[column] = box[column].astype(object)
    box.loc[row, column] = value
    problems = schema_problems(schemas.conform_raw(box, "player_boxscores"), CONTRACT)
    assert said in problems[row] and (problems.drop(row) == "").all()


def test_makes_above_attempts_are_named_with_both_numbers(clean_box):
    box = clean_box.copy()
    row = box.index[box["fga"] > 2][0]
    box.loc[row, "fgm"] = box.loc[row, "fga"] + 1
    assert schema_problems(box, CONTRACT)[row] == f"fgm={box.loc[row, 'fga'] + 1} > fga={box.loc[row, 'fga']}"


def test_an_unreadable_cell_is_null_and_named_never_a_silent_null(clean_box):
    box = clean_box.assign(pts=clean_box["pts"].astype(object))
    row = box.index[box["minutes"].notna()][0]
    box.loc[row, "pts"] = "twelve"
    read = schemas.conform_raw(box, "player_boxscores")
    assert pd.isna(read.loc[row, "pts"]) and read.loc[row, schemas.UNREADABLE] == "pts='twelve'"
    assert schema_problems(read, CONTRACT)[row] == "unreadable: pts='twelve'"  # not also 'pts missing'
    with pytest.raises(schemas.SchemaError, match=r"player_boxscores.pts: 1 value\(s\) cannot be read as Int64 \(row \d+: 'twelve'\)"):
        schemas.conform(box, schemas.PLAYER_BOXSCORES, "player_boxscores")  # the strict cast names the row too


def test_the_rule_fails_only_the_date_with_the_row_and_names_it(clean_box):
    box = clean_box.copy()
    row = box.index[(box["game_date"] == DAY) & box["minutes"].notna()][0]
    box.loc[row, "minutes"] = "-26:00"
    rule = next(r for r in PLAYER_BOXSCORE_RULES if r.name == names.MATCHES_SCHEMA)
    dates = [pd.Timestamp(DAY), pd.Timestamp(NEXT)]
    verdicts = rule.evaluate(CheckInputs(box, dates, load_thresholds())).set_index("game_date")
    assert verdicts["passed"].tolist() == [False, True]
    label = f"{box.loc[row, 'game_id']}/{box.loc[row, 'player_id']} (minutes='-26:00' is not a game clock"
    assert verdicts.loc[DAY, "detail"].startswith("rows: " + label)


def test_an_nba_com_box_score_with_a_non_numeric_value_is_named_by_the_schema():
    payload = json.loads((REAL_API / "BoxScoreTraditionalV2.json").read_text())
    players = next(s for s in payload["resultSets"] if s["name"] == "PlayerStats")
    pts = [h.lower() for h in players["headers"]].index("pts")
    players["rowSet"][0][pts] = "N/A"
    box = schemas.conform_raw(parse_boxscore_traditional_v2(payload, dt.date(2023, 1, 2))[0], "player_boxscores")
    problems = schema_problems(box, CONTRACT)
    assert problems[0] == "unreadable: pts='N/A'" and (problems.drop(0) == "").all()


# -- through the raw assets: the date is quarantined, the others publish ------------------------------------------
def _failed(result: dg.ExecuteInJobResult, asset: str, check: str) -> dg.AssetCheckEvaluation:
    evaluation = next(e for e in run_results(result) if e.asset_key.path[-1] == asset and e.check_name == check)
    assert not evaluation.passed  # the run's result (a warning in a range run: the other dates carry on) ...
    per_date = [e for e in result.get_asset_check_evaluations()
                if e.asset_key.path[-1] == asset and e.check_name == check and e.partition and not e.passed]
    assert per_date and all(e.severity == dg.AssetCheckSeverity.ERROR and e.blocking for e in per_date)  # ... blocks per date
    return evaluation


def _published_dates(warehouse: str, table: str) -> set[str]:
    return set(read_table(warehouse, table)["game_date"].dt.strftime("%Y-%m-%d"))


@pytest.mark.parametrize(
    "hostile, said",
    [
        ("negative_minutes", "minutes='-26:00' is not a game clock"),
        ("non_numeric_points", "unreadable: pts='twelve'"),
        ("html_name", "player_name='<b>LeBron James</b>' is not a person's name"),
        ("made_over_attempted", "ftm="),
    ],
)
def test_a_hostile_simulator_row_quarantines_its_date_by_name(warehouse, hostile, said):
    faults = SimulatorFaults(hostile_value=hostile, hostile_value_rate=0.2, affected_dates=[DAY])
    result = run_range(warehouse, DAY, NEXT, faults=faults, assets=raw_assets)
    evaluation = _failed(result, "player_boxscores", names.MATCHES_SCHEMA)
    assert evaluation.metadata["failed_dates"].value == DAY and said in evaluation.metadata["failures"].value
    assert _published_dates(warehouse, "raw.player_boxscores") == {NEXT}
    assert _published_dates(warehouse, "quarantine.raw__player_boxscores") == {DAY}


def test_a_schedule_listing_a_game_twice_fails_its_check_naming_the_game_and_nothing_crashes(warehouse):
    faults = SimulatorFaults(duplicate_game_rate=0.2, affected_dates=[DAY])
    result = run_range(warehouse, DAY, NEXT, faults=faults)  # raw and analytics
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    # no step fails (no InvalidIndexError): the date is quarantined and its analytics held back, the next date built
    assert result.success and not failures
    assert _published_dates(warehouse, "analytics.player_game_summary") == {NEXT}
    evaluation = _failed(result, "schedule", names.NO_DUPLICATE_KEYS)
    schedule = LeagueSimulator(faults=faults).fetch("schedule", dt.date(2024, 1, 15), dt.date(2024, 1, 15))
    twice = schedule.loc[schedule["game_id"].duplicated(), "game_id"]
    assert len(twice) and all(game in evaluation.metadata["failures"].value for game in twice)
    assert _published_dates(warehouse, "raw.schedule") == {NEXT}


# -- the season replay, on small hostile files in its format ----------------------------------------------------
REPLAY_DAYS = ("2023-10-24", "2023-10-25")


def _replay_files(directory, break_row=None, games_twice: bool = False) -> int:
    """Two real dates of the shipped files, with one row of the first date broken by `break_row`."""
    games = [json.loads(line) for line in (DATA_DIR / GAMES_FILE).read_text().splitlines()]
    games = [g for g in games if g["date"] in REPLAY_DAYS]
    if games_twice:
        games.append(games[0])
    (directory / GAMES_FILE).write_text("".join(json.dumps(g) + "\n" for g in games))
    box = pd.read_csv(DATA_DIR / BOX_SCORES_FILE, dtype=str)
    box = box[pd.to_datetime(box["Date"], format="%m/%d/%Y").dt.strftime("%Y-%m-%d").isin(REPLAY_DAYS)].reset_index(drop=True)
    row = box.index[box["Date"] == "10/24/2023"][-1]
    if break_row is not None:
        break_row(box, row)
    (directory / BOX_SCORES_FILE).write_bytes(gzip.compress(box.to_csv(index=False).encode()))
    return row + 2  # the broken row's line in the file


def _run_replay(directory, warehouse: str) -> dg.ExecuteInJobResult:
    resources = resources_for("local", warehouse_path=warehouse)
    resources["source"] = SeasonReplaySource(data_dir=str(directory))
    tags = {"dagster/asset_partition_range_start": REPLAY_DAYS[0], "dagster/asset_partition_range_end": REPLAY_DAYS[1]}
    return dg.materialize(raw_assets, resources=resources, raise_on_error=False, tags=tags)


def _set(column: str, value: str):
    def broken(box: pd.DataFrame, row: int) -> None:
        box.loc[row, column] = value
    return broken


def _fgm_above_fga(box: pd.DataFrame, row: int) -> None:
    box.loc[row, "FGA"] = str(int(box.loc[row, "FGM"]) - 1)  # points unchanged: they still add up to the final score


@pytest.mark.parametrize(
    "break_row, said",
    [
        (_set("Minutes", "-26"), "minutes='-26:00' is not a game clock"),
        (_set("Points", "twelve"), f"unreadable: pts='twelve' ({BOX_SCORES_FILE} line {{line}}, Points))"),
        (_set("Player", "<script>x</script>"), "player_name='<script>x</script>' is not a person's name"),
        (_fgm_above_fga, "fgm="),
    ],
    ids=["negative_minutes", "non_numeric_points", "html_name", "made_over_attempted"],
)
def test_a_hostile_replay_row_quarantines_its_date_by_name(tmp_path, warehouse, break_row, said):
    line = _replay_files(tmp_path, break_row)
    result = _run_replay(tmp_path, warehouse)
    evaluation = _failed(result, "player_boxscores", names.MATCHES_SCHEMA)
    said = said.format(line=line)
    assert evaluation.metadata["failed_dates"].value == REPLAY_DAYS[0] and said in evaluation.metadata["failures"].value
    assert _published_dates(warehouse, "raw.player_boxscores") == {REPLAY_DAYS[1]}
    assert _published_dates(warehouse, "raw.schedule") == set(REPLAY_DAYS)


def test_a_non_numeric_replay_value_marks_its_team_game_too(tmp_path, warehouse):
    _replay_files(tmp_path, _set("Points", "twelve"))
    result = _run_replay(tmp_path, warehouse)
    evaluation = _failed(result, "team_boxscores", names.MATCHES_SCHEMA)
    assert "1 player row(s) unreadable" in evaluation.metadata["failures"].value
    assert _published_dates(warehouse, "raw.team_boxscores") == {REPLAY_DAYS[1]}


def test_a_replay_schedule_listing_a_game_twice_fails_its_check_naming_the_game(tmp_path, warehouse):
    _replay_files(tmp_path, games_twice=True)
    result = _run_replay(tmp_path, warehouse)
    evaluation = _failed(result, "schedule", names.NO_DUPLICATE_KEYS)
    assert "0022300061" in evaluation.metadata["failures"].value
    assert _published_dates(warehouse, "raw.schedule") == {REPLAY_DAYS[1]}
    assert _published_dates(warehouse, "raw.player_boxscores") == set(REPLAY_DAYS)  # joined once, not doubled
    assert not read_table(warehouse, "raw.player_boxscores").duplicated(["game_id", "player_id"]).any()
