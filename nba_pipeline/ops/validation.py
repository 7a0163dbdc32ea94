"""Range validation: the original orchestrator's phase gates over a date range, judged on the published rows.

`validate_range(warehouse, phase, start, end, thresholds)` returns one row per measure — phase, table, measure,
threshold, actual, verdict (PASS / FAIL / n/a) and how the threshold was derived — from the published rows of the
range, read through the `Warehouse` interface (DuckDB's Parquet read copy, so it never waits on the DuckDB writer;
BigQuery's phase datasets, the date filter in the query) and aggregated here, the same on either.

How "expected" is derived (thresholds in `config/thresholds.yaml`, section `range_validation`):
  - scheduled games come from the published schedule of the range (`raw.schedule`), counting only games
    it records as Final: a game not played yet (today's, or a date whose schedule was last fetched before its games
    ended) has no box score to expect, so a range reaching today is judged on what has been played (the games left
    out are reported); a date without a published schedule makes every expected count unknowable, so
    `schedule / dates_known_pct` is itself a measure (100 % by default) in every phase;
  - counts: the original team's floors for a full four-season backfill (team_offense 5,600 team-games,
    player_game_summary 35,000 records) scaled by the range's share of the schedule:
    threshold = ceil(floor × scheduled team-games in range / reference_team_games), reference_team_games = 9,840
    (4 seasons × 1,230 games × 2 teams). A one-week range of 59 games is held to ceil(5,600 × 118 / 9,840) = 68
    team-games; an off-season range has no scheduled games and a threshold of 0;
  - success: the share of the range's game dates (dates with a scheduled game) whose latest publish-log record for
    the table is a publish (not quarantined, not missing);
  - shares and averages are over the published rows of the range, with the population of the per-date check of the
    same name (players who played for player_game_summary); with no population the measure is `n/a`, not a failure.
A range passes when no measure FAILs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from nba_pipeline.config import Thresholds
from nba_pipeline.dates import parse_game_date_range
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.ops.published import as_warehouse
from nba_pipeline.warehouse.base import PUBLISHED, TableRef, Warehouse

FINAL = "Final"  # raw.schedule game_status of a game that has been played (every source writes this value)

PHASES = ("raw", "analytics", "precompute", "ml", "predictions")
PASS, FAIL, NOT_JUDGED = "PASS", "FAIL", "n/a"
COLUMNS = ["phase", "table", "measure", "threshold", "actual", "verdict", "rule"]
RAW_FEEDS = ("schedule", "player_boxscores", "team_boxscores", "shot_zones", "injury_report", "prop_lines")
TABLE_SCHEMA = {
    **{feed: "raw" for feed in RAW_FEEDS},
    "team_offense_game_summary": "analytics",
    "player_game_summary": "analytics",
    "player_composite_factors": "precompute",
    "player_daily_cache": "precompute",
    "ml_feature_store": "ml",
    "player_points_predictions": "predictions",
}


@dataclass
class RangeValidation:
    phase: str
    start: str
    end: str
    scheduled_games: int  # Final in the published schedule: the games whose data is expected
    game_dates: int
    table: pd.DataFrame  # COLUMNS
    not_final_games: int = 0  # scheduled but not Final (not played yet, or not refetched since): not expected

    @property
    def passed(self) -> bool:
        return not (self.table["verdict"] == FAIL).any()

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict:
        return {
            "phase": self.phase,
            "range": {"start": self.start, "end": self.end},
            "scheduled_games": self.scheduled_games,
            "not_final_games": self.not_final_games,
            "game_dates": self.game_dates,
            "passed": self.passed,
            "measures": json.loads(self.table.to_json(orient="records")),
        }


class _Measures:
    """Collects measures; `at_least` judges actual >= threshold (n/a when actual is unknown)."""

    def __init__(self, phase: str):
        self.phase, self.rows = phase, []

    def at_least(self, table: str, measure: str, threshold: float, actual: float | None, rule: str) -> None:
        known = actual is not None and not (isinstance(actual, float) and math.isnan(actual))
        verdict = (PASS if actual >= threshold else FAIL) if known else NOT_JUDGED
        self.rows.append([self.phase, table, measure, float(threshold), round(float(actual), 2) if known else None, verdict, rule])

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)


def _rows(warehouse: Warehouse, table: str, start: str, end: str, columns: Collection[str]) -> pd.DataFrame:
    """The published rows of `table` in [start, end], `columns` only (empty if never published)."""
    return warehouse.read_published(TableRef(TABLE_SCHEMA[table], table), start, end, columns=["game_date", *columns])


def _flag(values: pd.Series) -> pd.Series:
    """A boolean column as True / False, NULL as False (SQL's `case when x then 1 else 0 end`)."""
    return values.astype("boolean").fillna(False).astype(bool)


def _pct(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole else None


def _mean(values: pd.Series) -> float | None:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return float(values.mean()) if len(values) else None


def schedule_summary(warehouse: Warehouse, start: str, end: str) -> pd.DataFrame:
    """Per date of the range: its games the published schedule records as Final, and those it does not (yet)."""
    dates = pd.DataFrame({"game_date": pd.date_range(start, end).date})
    games = _rows(warehouse, "schedule", start, end, ["game_id", "game_status"])
    games = games.assign(game_date=to_datetime(games["game_date"]).dt.date,
                         final=games["game_status"].astype(object).eq(FINAL))
    per_date = pd.DataFrame({
        "games": games[games["final"]].groupby("game_date")["game_id"].nunique(),
        "not_final": games[~games["final"]].groupby("game_date")["game_id"].nunique(),
    }).rename_axis("game_date").reset_index()
    out = dates.merge(per_date, on="game_date", how="left")
    out[["games", "not_final"]] = out[["games", "not_final"]].fillna(0).astype(int)
    return out


def latest_outcomes(warehouse: Warehouse, start: str, end: str) -> pd.DataFrame:
    """asset, game_date (date), outcome: the latest publish-log record per asset and date of the range."""
    frame = warehouse.publish_log(start, end)[["asset", "game_date", "outcome"]]
    return frame.assign(game_date=to_datetime(frame["game_date"]).dt.date)


def _success_pct(outcomes: pd.DataFrame, asset: str, game_dates: set) -> float | None:
    """% of the game dates whose latest record for `asset` is a publish; None without game dates."""
    if not game_dates:
        return None
    mine = outcomes[(outcomes["asset"] == asset) & outcomes["game_date"].isin(game_dates)]
    return 100.0 * int((mine["outcome"] == PUBLISHED).sum()) / len(game_dates)


def _scaled(reference: int, team_games: int, reference_team_games: int) -> tuple[int, str]:
    threshold = math.ceil(reference * team_games / reference_team_games)
    return threshold, f"ceil({reference:,} × {team_games:,} scheduled team-games / {reference_team_games:,})"


def validate_range(warehouse: Warehouse | str, phase: str, start: str, end: str, thresholds: Thresholds) -> RangeValidation:
    """The phase gate over [start, end] (ISO game dates, checked first: a reversed or malformed range is refused).
    Raises `WarehouseUnreachable` when the warehouse cannot be read."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}: expected one of {', '.join(PHASES)}")
    first, last = parse_game_date_range(start, end)
    start, end = first.isoformat(), last.isoformat()
    warehouse = as_warehouse(warehouse)
    t = thresholds.range_validation
    m = _Measures(phase)
    schedule = schedule_summary(warehouse, start, end)
    outcomes = latest_outcomes(warehouse, start, end)
    game_dates = set(schedule.loc[schedule["games"] > 0, "game_date"])
    scheduled_games = int(schedule["games"].sum())
    team_games = 2 * scheduled_games
    known = outcomes[(outcomes["asset"] == "schedule") & (outcomes["outcome"] == PUBLISHED)]["game_date"].nunique()
    m.at_least("schedule", "dates_known_pct", t.schedule_known_min_pct, 100.0 * known / len(schedule),
               "% of dates in range with a published schedule (expected counts come from it)")
    pct_rule = "% of the range's game dates whose latest publish-log record is a publish"
    if phase == "raw":
        for feed in RAW_FEEDS:
            m.at_least(feed, "success_pct", t.raw.success_min_pct, _success_pct(outcomes, feed, game_dates), pct_rule)
        teams = len(_rows(warehouse, "team_boxscores", start, end, []))
        threshold = math.ceil(t.raw.team_boxscores_min_pct_of_scheduled * team_games / 100)
        m.at_least("team_boxscores", "team_games", threshold, teams,
                   f"{t.raw.team_boxscores_min_pct_of_scheduled:g} % of {team_games:,} scheduled team-games")
        players = len(_rows(warehouse, "player_boxscores", start, end, []))
        threshold = math.ceil(t.raw.player_rows_per_team_game_min * team_games)
        m.at_least("player_boxscores", "records", threshold, players,
                   f"{t.raw.player_rows_per_team_game_min:g} per scheduled team-game × {team_games:,}")
    elif phase == "analytics":
        to, pgs = t.analytics.team_offense_game_summary, t.analytics.player_game_summary
        offense = _rows(warehouse, "team_offense_game_summary", start, end,
                        ["game_id", "team_id", "quality_score", "production_ready"])
        threshold, rule = _scaled(to.game_count_reference, team_games, t.reference_team_games)
        m.at_least("team_offense_game_summary", "game_count", threshold,
                   len(offense[["game_id", "team_id"]].dropna().drop_duplicates()), rule)
        m.at_least("team_offense_game_summary", "success_pct", to.success_min_pct,
                   _success_pct(outcomes, "team_offense_game_summary", game_dates), pct_rule)
        m.at_least("team_offense_game_summary", "avg_quality_score", to.avg_quality_score_min,
                   _mean(offense["quality_score"]), "mean quality_score of the team-games")
        m.at_least("team_offense_game_summary", "production_ready_pct", to.production_ready_min_pct,
                   _pct(_flag(offense["production_ready"]).sum(), len(offense)), "% of team-games production_ready")
        players = _rows(warehouse, "player_game_summary", start, end,
                        ["played", "minutes", "usage_rate", "production_ready", "quality_score", "has_shot_zones", "fga"])
        played = players[_flag(players["played"])]
        shooters = played[pd.to_numeric(played["fga"], errors="coerce").fillna(0) > 0]
        threshold, rule = _scaled(pgs.records_reference, team_games, t.reference_team_games)
        m.at_least("player_game_summary", "records", threshold, len(players), rule)
        m.at_least("player_game_summary", "success_pct", pgs.success_min_pct,
                   _success_pct(outcomes, "player_game_summary", game_dates), pct_rule)
        m.at_least("player_game_summary", "minutes_populated_pct", pgs.minutes_populated_min_pct,
                   _pct(played["minutes"].notna().sum(), len(played)), "% of players who played with minutes")
        m.at_least("player_game_summary", "usage_rate_populated_pct", pgs.usage_rate_populated_min_pct,
                   _pct(played["usage_rate"].notna().sum(), len(played)), "% of players who played with a usage_rate")
        m.at_least("player_game_summary", "shot_zone_coverage_pct", pgs.shot_zone_coverage_min_pct,
                   _pct(_flag(shooters["has_shot_zones"]).sum(), len(shooters)),
                   "% of players who played with a field-goal attempt and shot zones")
        m.at_least("player_game_summary", "avg_quality_score", pgs.avg_quality_score_min,
                   _mean(played["quality_score"]), "mean quality_score of players who played")
        m.at_least("player_game_summary", "production_ready_pct", pgs.production_ready_min_pct,
                   _pct(_flag(played["production_ready"]).sum(), len(played)), "% of players who played production_ready")
    elif phase == "precompute":
        for table in ("player_composite_factors", "player_daily_cache"):
            m.at_least(table, "success_pct", t.precompute.success_min_pct,
                       _success_pct(outcomes, table, game_dates), pct_rule)
        factors = _rows(warehouse, "player_composite_factors", start, end, ["games_before", "avg_usage_rate_last_7_games"])
        seasoned = factors[pd.to_numeric(factors["games_before"], errors="coerce").fillna(0) >= 7]
        m.at_least("player_composite_factors", "usage_l7_populated_pct", t.precompute.usage_l7_populated_min_pct,
                   _pct(seasoned["avg_usage_rate_last_7_games"].notna().sum(), len(seasoned)),
                   "% of rows whose player has 7 games this season with avg_usage_rate_last_7_games")
    else:
        _later_phases(warehouse, m, getattr(t, phase), phase, start, end, outcomes, game_dates, pct_rule)
    return RangeValidation(phase, start, end, scheduled_games, len(game_dates), m.frame(),
                           not_final_games=int(schedule["not_final"].sum()))


def _later_phases(warehouse: Warehouse, m: _Measures, t, phase: str, start: str, end: str, outcomes: pd.DataFrame,
                  game_dates: set, pct_rule: str) -> None:
    """ml: the feature store published on every game date, complete past the bootstrap; predictions: the calls
    and their grades published on every game date."""
    if phase == "ml":
        m.at_least("ml_feature_store", "success_pct", t.success_min_pct,
                   _success_pct(outcomes, "ml_feature_store", game_dates), pct_rule)
        store = _rows(warehouse, "ml_feature_store", start, end, ["bootstrap", "feature_completeness"])
        past = store[~store["bootstrap"].astype("boolean").fillna(True).astype(bool)]
        mean = _mean(past["feature_completeness"])
        m.at_least("ml_feature_store", "feature_completeness_pct", t.feature_completeness_min_pct,
                   None if mean is None else 100.0 * mean,
                   "mean share of v1 features present, rows past the 10-game bootstrap")
    else:
        for table in ("points_prop_predictions", "prediction_grading"):
            m.at_least(table, "success_pct", t.success_min_pct, _success_pct(outcomes, table, game_dates), pct_rule)


def format_validation(result: RangeValidation) -> str:
    frame = result.table.astype(object).where(result.table.notna(), "")
    lines = [
        f"nba-pipeline validate --phase {result.phase} {result.start} … {result.end}: "
        f"{result.scheduled_games:,} scheduled games on {result.game_dates} game date(s)"
        + (f" ({result.not_final_games:,} more not final yet: not expected)" if result.not_final_games else ""),
        "",
        f"VERDICT: {'PASS' if result.passed else 'FAIL'}"
        + ("" if result.passed else " — " + ", ".join(
            result.table.loc[result.table["verdict"] == FAIL, ["table", "measure"]].agg(" ".join, axis=1))),
        "",
        *("  " + line for line in frame.drop(columns="phase").to_string(index=False).splitlines()),
    ]
    return "\n".join(lines)


def validation_markdown(result: RangeValidation) -> str:
    frame = result.table.astype(object).where(result.table.notna(), "")
    header = "| table | measure | threshold | actual | verdict | rule |\n|---|---|---:|---:|---|---|\n"
    body = "\n".join(
        f"| {r.table} | {r.measure} | {r.threshold:g} | {r.actual if r.actual == '' else f'{r.actual:g}'} | "
        f"{'**FAIL**' if r.verdict == FAIL else r.verdict} | {r.rule} |"
        for r in frame.itertuples(index=False)
    )
    verdict = "PASS" if result.passed else "FAIL"
    return (f"**{verdict}** — phase `{result.phase}`, {result.start} … {result.end}, "
            f"{result.scheduled_games:,} scheduled games\n\n" + header + body)
