"""Players and rosters: stable ids, careers across seasons, retirements, rookies, off-season moves, mid-season trades."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nba_pipeline.league.seasons import SEASONS
from nba_pipeline.league.teams import TEAMS

ROSTER_SIZE = 15
FIRST_PLAYER_ID = 1630001
TRADES_PER_SEASON = 8
# Minutes a coach would give the n-th best player on a healthy night (rank 1 = best).
ROTATION_MINUTES = np.array([35, 33, 32, 30, 28, 25, 22, 19, 16, 12, 8, 5, 3, 2, 1], dtype=float)

_FIRST = (
    "Aaron Andre Bam Brandon Caleb Cam Chris Cole Darius Davion De'Andre Derrick Devin Donte Evan Franz Gary "
    "Grant Immanuel Isaiah Jalen Jaren Jarrett Jaylen Jordan Josh Jusuf Keegan Kevin Kyle Lamar Luka Malik "
    "Marcus Mikal Miles Naz Nikola Obi Onyeka Paolo Quentin Reggie Royce Scottie Shai Taurean Tyrese Victor "
    "Walker Xavier Zach"
).split()
_LAST = (
    "Adams Allen Anderson Bailey Barnes Bridges Brooks Brown Carter Clarke Collins Daniels Davis Edwards Ellis "
    "Fox Gibson Green Grimes Harris Hayes Holiday Hunter Jackson Johnson Jones King Lewis Martin Mitchell Moore "
    "Murray Nance Okoro Parker Porter Reid Robinson Sabonis Smith Thompson Turner Walker Washington White "
    "Williams Wright Young"
).split()


@dataclass(frozen=True)
class League:
    players: pd.DataFrame  # one row per player: id, name, position and career-stable shooting/box-score rates
    stints: pd.DataFrame  # one row per player per team spell: season, team_id, first_day, last_day, rotation_minutes


def _new_players(rng: np.random.Generator, first_id: int, n: int) -> pd.DataFrame:
    talent = rng.normal(0, 1, n)
    position = rng.choice(np.array(["G", "F", "C"]), n, p=[0.42, 0.38, 0.20])
    big = position == "C"
    guard = position == "G"
    return pd.DataFrame(
        {
            "player_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "player_name": [
                f"{_FIRST[i % len(_FIRST)]} {_LAST[j % len(_LAST)]}"
                for i, j in zip(rng.integers(0, 10_000, n), rng.integers(0, 10_000, n))
            ],
            "position": position,
            "talent": talent,
            "fga36": np.clip(11.6 + 2.6 * talent + rng.normal(0, 1.3, n), 5, 24),
            "three_rate": np.clip(np.where(big, 0.12, 0.42) + rng.normal(0, 0.09, n), 0.0, 0.75),
            "p2": np.clip(np.where(big, 0.60, 0.51) + rng.normal(0, 0.035, n), 0.38, 0.72),
            "p3": np.clip(0.355 + rng.normal(0, 0.03, n), 0.25, 0.45),
            "fta_rate": np.clip(0.24 + 0.04 * talent + rng.normal(0, 0.07, n), 0.05, 0.6),
            "pft": np.clip(np.where(big, 0.70, 0.79) + rng.normal(0, 0.06, n), 0.45, 0.95),
            "oreb36": np.clip(np.where(big, 3.2, np.where(guard, 0.8, 1.6)) + rng.normal(0, 0.4, n), 0.1, 5),
            "dreb36": np.clip(np.where(big, 8.5, np.where(guard, 3.8, 5.5)) + rng.normal(0, 0.8, n), 1.5, 12),
            "ast36": np.clip(np.where(guard, 6.0, 2.8) + 1.2 * talent + rng.normal(0, 1.0, n), 0.5, 11),
            "stl36": np.clip(1.1 + rng.normal(0, 0.25, n), 0.3, 2.3),
            "blk36": np.clip(np.where(big, 1.7, 0.5) + rng.normal(0, 0.25, n), 0.05, 3.5),
            "tov36": np.clip(1.4 + 0.45 * talent + rng.normal(0, 0.3, n), 0.5, 4.5),
            "pf36": np.clip(3.0 + rng.normal(0, 0.5, n), 1.5, 5.0),
        }
    )


def build_league(seed: int) -> League:
    """Evolve the league through every season of the calendar: same seed, same careers."""
    rng = np.random.default_rng([seed, 1])
    n_teams = len(TEAMS)
    team_ids = TEAMS["team_id"].to_numpy()
    players = _new_players(rng, FIRST_PLAYER_ID, n_teams * ROSTER_SIZE)
    team_of = pd.Series(np.repeat(team_ids, ROSTER_SIZE)[rng.permutation(len(players))], index=players["player_id"])
    next_id = FIRST_PLAYER_ID + len(players)
    stints = []

    for k, season in enumerate(SEASONS):
        if k > 0:
            # Retirements (weaker players more often), replaced one-for-one by rookies on the same team.
            retire_p = np.clip(0.10 - 0.04 * players.set_index("player_id").loc[team_of.index, "talent"], 0.02, 0.25)
            retiring = team_of.index[rng.uniform(size=len(team_of)) < retire_p.to_numpy()]
            rookies = _new_players(rng, next_id, len(retiring))
            next_id += len(retiring)
            players = pd.concat([players, rookies], ignore_index=True)
            vacated = team_of.loc[retiring].to_numpy()
            team_of = pd.concat([team_of.drop(retiring), pd.Series(vacated, index=rookies["player_id"])])
            # Off-season moves: 60 players change teams among themselves (roster sizes stay 15).
            movers = rng.choice(team_of.index.to_numpy(), 60, replace=False)
            team_of.loc[movers] = rng.permutation(team_of.loc[movers].to_numpy())
            # Careers drift.
            players["talent"] += rng.normal(0, 0.25, len(players))

        talent = players.set_index("player_id")["talent"]
        season_roster = pd.DataFrame({"player_id": team_of.index, "team_id": team_of.to_numpy()})
        season_roster["talent"] = talent.loc[season_roster["player_id"]].to_numpy()
        rank = season_roster.groupby("team_id")["talent"].rank(ascending=False, method="first").astype(int)
        season_roster["rotation_minutes"] = ROTATION_MINUTES[rank.to_numpy() - 1]
        season_roster["season"] = season.label
        season_roster["first_day"] = pd.Timestamp(season.first_day)
        season_roster["last_day"] = pd.Timestamp(season.last_day)

        # Mid-season trades: two teams swap one player each, effective on a day before the deadline.
        trade_days = _trade_days(rng, season.start_year)
        rows = season_roster.drop(columns="talent")
        for day in trade_days:
            team_a, team_b = rng.choice(team_ids, 2, replace=False)
            current = rows[rows["last_day"] == pd.Timestamp(season.last_day)]
            pa = rng.choice(current.loc[current["team_id"] == team_a, "player_id"].to_numpy())
            pb = rng.choice(current.loc[current["team_id"] == team_b, "player_id"].to_numpy())
            for pid, new_team in ((pa, team_b), (pb, team_a)):
                open_idx = rows.index[(rows["player_id"] == pid) & (rows["last_day"] == pd.Timestamp(season.last_day))][0]
                moved = rows.loc[open_idx].copy()
                rows.loc[open_idx, "last_day"] = pd.Timestamp(day) - pd.Timedelta(days=1)
                moved["team_id"] = new_team
                moved["first_day"] = pd.Timestamp(day)
                rows = pd.concat([rows, moved.to_frame().T], ignore_index=True)
                team_of.loc[pid] = new_team
        stints.append(rows)

    stints_df = pd.concat(stints, ignore_index=True).astype(
        {"player_id": "int64", "team_id": "int64", "rotation_minutes": "float64"}
    )
    return League(players=players.reset_index(drop=True), stints=stints_df)


def _trade_days(rng: np.random.Generator, start_year: int) -> list[dt.date]:
    window_start = dt.date(start_year, 12, 15)
    span = (dt.date(start_year + 1, 2, 6) - window_start).days
    offsets = np.sort(rng.choice(span, TRADES_PER_SEASON, replace=False))
    return [window_start + dt.timedelta(days=int(o)) for o in offsets]
