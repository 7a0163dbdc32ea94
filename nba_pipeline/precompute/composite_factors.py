"""player_composite_factors: per player on a date's slate, usage and scoring windows plus the context behind them.

A row for date D is what is known before D's games tip off: the slate's players come from D's schedule, the
players' earlier box scores and D's points lines (never from D's box scores), and every window reads only games
before D (prediction must not see the game it predicts) and never crosses a season. Early-season dates on which
no player can have a full 7-game window are a *bootstrap* date, flagged as such rather than averaged over what
little history exists.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nba_pipeline import schemas
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.raw.injuries import latest_before_tipoff
from nba_pipeline.raw.lines import POINTS_MARKET
from nba_pipeline.league.seasons import SEASON_BY_LABEL, season_labels
from nba_pipeline.precompute.windows import game_windows

USAGE_WINDOW = 7
SCORING_WINDOWS = {"l5": 5, "l10": 10}
# form weighted toward the latest games (halflives in games): points and minutes at several speeds, shots and usage
FORM_HALFLIVES = (3, 5, 10, 20)
SHOT_VALUES, SHOT_HALFLIFE = ("fga", "fta", "fg3a"), 10
OPPONENT_WINDOW = 10
# projected usage: recent form weighted against the season, lifted a little per absent teammate (capped at 3)
RECENT_WEIGHT, USAGE_LIFT_PER_TEAMMATE_OUT, MAX_TEAMMATES_OUT = 0.7, 0.03, 3

PLAYER_COMPOSITE_FACTORS = {
    **schemas.PLAYER_GAME_KEYS,
    "opponent_team_id": schemas.INT,
    "is_home": schemas.BOOL,
    "on_prop_line": schemas.BOOL,
    "bootstrap_date": schemas.BOOL,
    "games_before": schemas.INT,
    "last_game_date": schemas.DATE,
    "avg_usage_rate_last_7_games": schemas.FLOAT,
    "usage_rate_std_last_7_games": schemas.FLOAT,
    "usage_rate_season_avg": schemas.FLOAT,
    "projected_usage_rate": schemas.FLOAT,
    "usage_spike_score": schemas.FLOAT,
    "usage_context_json": schemas.STR,
    "rest_days": schemas.INT,
    "back_to_back": schemas.BOOL,
    "teammates_out": schemas.INT,
    "opponent_def_rating": schemas.FLOAT,
    "opponent_last_game_date": schemas.DATE,
    "points_avg_last_5": schemas.FLOAT,
    "points_avg_last_10": schemas.FLOAT,
    "minutes_avg_last_5": schemas.FLOAT,
    "minutes_avg_last_10": schemas.FLOAT,
    "points_season_avg": schemas.FLOAT,
    **{f"{v}_ewma_{h}": schemas.FLOAT for v in ("points", "minutes") for h in FORM_HALFLIVES},
    **{f"{v}_ewma_{SHOT_HALFLIFE}": schemas.FLOAT for v in (*SHOT_VALUES, "usage_rate")},
    "last_points": schemas.FLOAT,
    "last_minutes": schemas.FLOAT,
    **{f"{w}_{field}": dtype for w in ("l5", "l7", "l10") for field, dtype in (
        ("games", schemas.INT), ("is_complete", schemas.BOOL), ("incomplete_reason", schemas.STR)
    )},
}


def _team_games(schedule: pd.DataFrame) -> pd.DataFrame:
    """Two rows per final scheduled game: each team's game, for counting team games before a date."""
    final = schedule[schedule["game_status"] == "Final"]
    sides = [final.rename(columns={f"{side}_team_id": "team_id"}) for side in ("home", "away")]
    return pd.concat(sides, ignore_index=True)[["team_id", "season", "game_date", "game_id"]].assign(ok=True)


def slate(schedule: pd.DataFrame, dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """Two rows per game scheduled on `dates`, whatever its status: each team with its opponent and venue."""
    games = schedule[schedule["game_date"].isin(pd.DatetimeIndex(dates))]
    sides = [
        games.assign(
            team_id=games[f"{side}_team_id"], team_abbreviation=games[f"{side}_team"],
            opponent_team_id=games[f"{other}_team_id"], is_home=side == "home",
        )
        for side, other in (("home", "away"), ("away", "home"))
    ]
    columns = ["game_id", "game_date", "season", "team_id", "team_abbreviation", "opponent_team_id", "is_home"]
    return pd.concat(sides, ignore_index=True)[columns] if len(games) else pd.DataFrame(columns=columns)


def bootstrap_dates(schedule_history: pd.DataFrame, dates: Sequence[pd.Timestamp]) -> pd.Series:
    """Per date: True when no team on that day's slate has played `USAGE_WINDOW` final games this season before it.

    Reads the date's own games only for who plays (not their status), so the flag is the same before tip-off."""
    team_games = _team_games(schedule_history)
    today = slate(schedule_history, dates)
    before = game_windows(team_games, today, key="team_id", values=[], sizes={"l7": USAGE_WINDOW})["games_before"]
    most = before.groupby(today["game_date"].to_numpy()).max()
    return (most.reindex(pd.DatetimeIndex(dates), fill_value=0) < USAGE_WINDOW).rename("bootstrap_date")


def pre_game_population(
    pgs_history: pd.DataFrame, schedule: pd.DataFrame, prop_lines: pd.DataFrame, dates: Sequence[pd.Timestamp]
) -> pd.DataFrame:
    """One row per player expected on each date's slate, from what is known before tip-off (there is no roster feed):

    - every player with a points line on the date (his team from the line's team, matched to the slate), so every
      line gets a row — a line whose team is not on the slate keeps its game id, with no team or opponent;
    - every other player whose team — the team of his latest box score this season *before* the date — plays on it.
    Opponent and venue come from the date's schedule. Box scores on or after the date are never read."""
    day_index = pd.DatetimeIndex(dates)
    sides = slate(schedule, dates).astype({"team_id": "Int64", "opponent_team_id": "Int64", "season": "object"})
    sides["game_date"] = to_datetime(sides["game_date"]).astype("datetime64[ns]")
    columns = ["game_id", "game_date", "season", "player_id", "player_name", "team_id", "opponent_team_id", "is_home", "on_prop_line"]

    lines = prop_lines[(prop_lines["market"] == POINTS_MARKET) & prop_lines["game_date"].isin(day_index)]
    lines = lines.drop_duplicates(["game_date", "player_id"])[["game_id", "game_date", "player_id", "player_name", "team_abbreviation"]]
    lines = lines.assign(game_date=to_datetime(lines["game_date"]).astype("datetime64[ns]"))
    lined = lines.rename(columns={"game_id": "line_game_id"}).merge(sides, on=["game_date", "team_abbreviation"], how="left")
    lined["game_id"] = lined["game_id"].fillna(lined["line_game_id"])
    lined["season"] = lined["season"].fillna(season_labels(lined["game_date"]))
    lined["on_prop_line"] = True

    box = pgs_history.dropna(subset=["season", "team_id", "player_id"])
    box = pd.DataFrame(
        {
            "player_id": box["player_id"].astype("int64"),
            "season": box["season"].astype(str),
            "seen": to_datetime(box["game_date"]).astype("datetime64[ns]"),
            "last_team_id": box["team_id"].astype("int64"),
            "player_name": box["player_name"],
        }
    ).sort_values("seen", kind="stable")
    days = pd.DataFrame({"game_date": day_index.unique().astype("datetime64[ns]")})
    days["season"] = season_labels(days["game_date"]).astype(object)
    pairs = days.dropna(subset=["season"]).merge(box[["player_id", "season"]].drop_duplicates(), on="season")
    latest = pd.merge_asof(
        pairs.sort_values("game_date", kind="stable"), box, left_on="game_date", right_on="seen",
        by=["player_id", "season"], allow_exact_matches=False,
    ).dropna(subset=["seen"])
    rostered = latest.drop(columns="season").astype({"last_team_id": "Int64"}).merge(
        sides, left_on=["game_date", "last_team_id"], right_on=["game_date", "team_id"]
    )
    rostered["on_prop_line"] = False

    both = pd.concat([lined[columns], rostered[columns]], ignore_index=True)
    both = both.drop_duplicates(["game_date", "player_id"], keep="first")  # a line names the team the book knows
    return both.sort_values(["game_date", "game_id", "team_id", "player_id"], kind="stable").reset_index(drop=True)


def missing_history(schedule_history: pd.DataFrame, pgs_history: pd.DataFrame, dates: Sequence[pd.Timestamp]) -> pd.Series:
    """Per date: final games earlier in its season with no player_game_summary rows, named (windows would skip them)."""
    final = schedule_history[schedule_history["game_status"] == "Final"]
    absent = final.loc[~final["game_id"].isin(pgs_history["game_id"].dropna()), ["game_id", "game_date", "season"]]
    days = pd.DataFrame({"day": pd.DatetimeIndex(dates)})
    days["season"] = season_labels(days["day"])
    pairs = days.merge(absent, on="season")
    pairs = pairs[pairs["game_date"] < pairs["day"]]
    named = pairs.groupby("day")["game_id"].agg(lambda ids: ", ".join(sorted(ids)[:20]) + (f" (+{len(ids) - 20} more)" if len(ids) > 20 else ""))
    return named.reindex(days["day"]).fillna("").astype("string").rename("missing_history_games")


def unmaterialized_history(materialized: set[str], dates: Sequence[pd.Timestamp]) -> pd.Series:
    """Per date: earlier dates of its season whose player_game_summary partition was never materialized.

    Data alone cannot tell an off day from a date nobody loaded; the partition record can."""
    stored = np.sort(to_datetime(sorted(materialized)).to_numpy()) if materialized else np.array([], dtype="datetime64[ns]")
    day_index = pd.DatetimeIndex(dates)
    first_days = to_datetime(season_labels(pd.Series(day_index)).map(lambda s: SEASON_BY_LABEL[s].first_day if pd.notna(s) else pd.NaT))
    out = pd.Series("", index=day_index, dtype="string", name="unmaterialized_dates")
    has_season = first_days.notna().to_numpy()
    expected = np.where(has_season, (day_index - pd.DatetimeIndex(first_days)).days, 0)
    found = np.searchsorted(stored, day_index.to_numpy(), "left") - np.searchsorted(stored, pd.DatetimeIndex(first_days).to_numpy(), "left")
    for i in np.flatnonzero(has_season & (found < expected)):
        season_days = pd.date_range(first_days.iloc[i], day_index[i] - pd.Timedelta(days=1))
        gaps = season_days[~season_days.isin(pd.DatetimeIndex(stored))]
        out.iloc[i] = f"{len(gaps)} date(s): {gaps[0]:%Y-%m-%d}..{gaps[-1]:%Y-%m-%d}"
    return out


def build_player_composite_factors(
    pgs_history: pd.DataFrame,
    defense_history: pd.DataFrame,
    schedule_history: pd.DataFrame,
    injury_report: pd.DataFrame,
    prop_lines: pd.DataFrame,
    dates: Sequence[pd.Timestamp],
) -> pd.DataFrame:
    """One row per player of each date's pre-game population (`pre_game_population`) for the dates in `dates`.

    Histories may start before the first date and may even include the dates themselves: every value reads
    only games strictly before the row's date, so a row is the same before and after its game."""
    history = pgs_history[pgs_history["played"].fillna(False)].assign(ok=pgs_history["production_ready"].fillna(False))
    history = history.rename(columns={"pts": "points"}).dropna(subset=["season"])
    rows = pre_game_population(pgs_history, schedule_history, prop_lines, dates)

    usage = game_windows(history, rows, key="player_id", values=["usage_rate"], sizes={"l7": USAGE_WINDOW},
                         halflives=(SHOT_HALFLIFE,))
    scoring = game_windows(history, rows, key="player_id", values=["points", "minutes"], sizes=SCORING_WINDOWS,
                           halflives=FORM_HALFLIVES)
    shots = game_windows(history, rows, key="player_id", values=list(SHOT_VALUES), sizes={}, halflives=(SHOT_HALFLIFE,))
    defense = defense_history[defense_history["production_ready"].notna()].assign(ok=defense_history["production_ready"])
    opponents = rows[["opponent_team_id", "season", "game_date"]].rename(columns={"opponent_team_id": "team_id"})
    known_opponent = opponents["team_id"].notna()
    opponent = game_windows(
        defense.dropna(subset=["team_id", "season"]),
        opponents.fillna({"team_id": -1}),
        key="team_id",
        values=["defensive_rating"],
        sizes={"opp": OPPONENT_WINDOW},
    )

    out = rows[["game_id", "game_date", "season", "player_id", "player_name", "team_id", "opponent_team_id", "is_home", "on_prop_line"]].copy()
    out["bootstrap_date"] = out["game_date"].map(bootstrap_dates(schedule_history, dates)).astype("boolean")
    out["games_before"] = usage["games_before"]
    out["last_game_date"] = usage["last_game_date"]
    l7 = usage["l7_usage_rate_avg"]
    std = usage["l7_usage_rate_std"]
    out["avg_usage_rate_last_7_games"] = l7
    out["usage_rate_std_last_7_games"] = std
    out["usage_rate_season_avg"] = usage["usage_rate_season_avg"]
    for window, stats in (("l7", usage), ("l5", scoring), ("l10", scoring)):
        for field in ("games", "is_complete", "incomplete_reason"):
            out[f"{window}_{field}"] = stats[f"{window}_{field}"]
    for window, size in SCORING_WINDOWS.items():
        out[f"points_avg_last_{size}"] = scoring[f"{window}_points_avg"]
        out[f"minutes_avg_last_{size}"] = scoring[f"{window}_minutes_avg"]
    out["points_season_avg"] = scoring["points_season_avg"]
    for value in ("points", "minutes"):
        for h in FORM_HALFLIVES:
            out[f"{value}_ewma_{h}"] = scoring[f"{value}_ewma_{h}"]
        out[f"last_{value}"] = scoring[f"last_{value}"]
    for value in SHOT_VALUES:
        out[f"{value}_ewma_{SHOT_HALFLIFE}"] = shots[f"{value}_ewma_{SHOT_HALFLIFE}"]
    out[f"usage_rate_ewma_{SHOT_HALFLIFE}"] = usage[f"usage_rate_ewma_{SHOT_HALFLIFE}"]

    rest = (out["game_date"] - out["last_game_date"]).dt.days
    out["rest_days"] = pd.array(rest, dtype="Int64")
    out["back_to_back"] = (out["rest_days"] == 1).astype("boolean")
    out["teammates_out"] = _teammates_out(latest_before_tipoff(injury_report, schedule_history), out)
    out["opponent_def_rating"] = opponent["opp_defensive_rating_avg"].where(known_opponent.to_numpy())
    out["opponent_last_game_date"] = opponent["last_game_date"].where(known_opponent.to_numpy())

    season_avg = out["usage_rate_season_avg"].fillna(l7)
    lift = 1 + USAGE_LIFT_PER_TEAMMATE_OUT * out["teammates_out"].clip(upper=MAX_TEAMMATES_OUT).astype("Float64")
    out["projected_usage_rate"] = ((RECENT_WEIGHT * l7 + (1 - RECENT_WEIGHT) * season_avg) * lift).where(l7.notna())
    out["usage_spike_score"] = ((usage["last_usage_rate"] - l7) / std.clip(lower=1.0)).where(l7.notna())
    out["usage_context_json"] = _context_json(out)
    return schemas.conform(out, PLAYER_COMPOSITE_FACTORS, "player_composite_factors")


def _teammates_out(injury_report: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """Players of the same team listed Out on the date (on the report's version in force at tip-off:
    `raw.injuries.latest_before_tipoff`), the player himself excluded."""
    out = injury_report.loc[injury_report["status"] == "Out", ["team_id", "game_date", "player_id"]].drop_duplicates()
    on_team = out.groupby(["team_id", "game_date"]).size().rename("on_team").reset_index()
    listed = rows[["team_id", "game_date", "player_id"]].merge(on_team, on=["team_id", "game_date"], how="left")
    himself = listed.merge(out.assign(himself=1), on=["team_id", "game_date", "player_id"], how="left")["himself"]
    return pd.Series((listed["on_team"].fillna(0) - himself.fillna(0)).to_numpy(), index=rows.index).astype("Int64")


def _context_json(rows: pd.DataFrame) -> pd.Series:
    context = pd.DataFrame(
        {
            "rest_days": rows["rest_days"],
            "back_to_back": rows["back_to_back"],
            "teammates_out": rows["teammates_out"],
            "opponent_def_rating": rows["opponent_def_rating"].round(1),
            "usage_rate_std_last_7_games": rows["usage_rate_std_last_7_games"].round(2),
        }
    ).astype(object).where(lambda f: f.notna(), None)
    if context.empty:
        return pd.Series([], index=rows.index, dtype="string")
    lines = context.to_json(orient="records", lines=True).splitlines()
    return pd.Series(np.asarray(lines, dtype=object), index=rows.index, dtype="string")
