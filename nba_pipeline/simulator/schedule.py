"""Season schedules: 1,230 games, 82 per team (41 home), no team twice a day, no three games in three days."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_pipeline.datetimes import to_datetime
from nba_pipeline.league.seasons import Season
from nba_pipeline.league.teams import PACIFIC_TRICODES, TEAMS

GAMES_PER_SEASON = 1230
_EAST_TIPOFFS = np.array(["19:00", "19:30", "20:00", "19:00", "19:30"])
_WEST_TIPOFFS = np.array(["22:00", "22:30", "22:00"])


def _matchups(rng: np.random.Generator) -> np.ndarray:
    """(home_idx, away_idx) pairs: a double round robin (58 games) plus a 24-game circulant (12 home, 12 away)."""
    n = len(TEAMS)
    order = rng.permutation(n)
    home, away = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    off_diag = home != away
    pairs = [np.stack([home[off_diag], away[off_diag]], axis=1)]
    i = np.arange(n)
    for k in range(1, 13):
        pairs.append(np.stack([i, (i + k) % n], axis=1))
    return order[np.concatenate(pairs)]


def build_schedule(season: Season, seed: int) -> pd.DataFrame:
    """One row per game: game_id, game_date, tipoff_et, home/away team id and tricode."""
    rng = np.random.default_rng([seed, season.start_year, 7])
    matchups = _matchups(rng)
    days = season.game_days()
    pool = list(rng.permutation(len(matchups)))
    remaining = np.full(len(TEAMS), 82)
    played: dict[int, set[int]] = {t: set() for t in range(len(TEAMS))}
    assigned: list[tuple[int, int]] = []  # (matchup index, day index)

    for j in range(len(days)):
        left_days = len(days) - j
        capacity = int(np.clip(round(len(pool) / left_days * rng.uniform(0.55, 1.45)), 1, 15))
        # Teams with the most games left go first, so nobody ends the season with a backlog.
        pool.sort(key=lambda m: -(remaining[matchups[m][0]] + remaining[matchups[m][1]]))
        busy: set[int] = set()
        taken = []
        for m in pool:
            h, a = matchups[m]
            if h in busy or a in busy:
                continue
            if any({j - 1, j - 2} <= played[t] for t in (h, a)):
                continue
            busy.update((h, a))
            taken.append(m)
            if len(taken) == capacity:
                break
        for m in taken:
            h, a = matchups[m]
            played[h].add(j)
            played[a].add(j)
            remaining[[h, a]] -= 1
            assigned.append((m, j))
        taken_set = set(taken)
        pool = [m for m in pool if m not in taken_set]

    # Rare leftovers go to the latest day where both teams are free.
    for m in pool:
        h, a = matchups[m]
        for j in range(len(days) - 1, -1, -1):
            if j not in played[h] and j not in played[a]:
                played[h].add(j)
                played[a].add(j)
                assigned.append((m, j))
                break
        else:  # pragma: no cover - the greedy pass always leaves room
            raise RuntimeError(f"could not schedule matchup {m} in {season.label}")

    m_idx, d_idx = np.array(assigned).T
    home_idx, away_idx = matchups[m_idx, 0], matchups[m_idx, 1]
    home_tri = TEAMS["tricode"].to_numpy()[home_idx]
    west = np.isin(home_tri, list(PACIFIC_TRICODES))
    tip = np.where(
        west,
        _WEST_TIPOFFS[rng.integers(0, len(_WEST_TIPOFFS), len(m_idx))],
        _EAST_TIPOFFS[rng.integers(0, len(_EAST_TIPOFFS), len(m_idx))],
    )
    game_dates = to_datetime(np.array(days, dtype="datetime64[D]")[d_idx])
    games = pd.DataFrame(
        {
            "game_date": game_dates,
            "tipoff_et": to_datetime(game_dates.strftime("%Y-%m-%d") + " " + tip),
            "home_team_id": TEAMS["team_id"].to_numpy()[home_idx],
            "home_team": home_tri,
            "away_team_id": TEAMS["team_id"].to_numpy()[away_idx],
            "away_team": TEAMS["tricode"].to_numpy()[away_idx],
        }
    ).sort_values(["game_date", "tipoff_et", "home_team"], ignore_index=True)
    games.insert(0, "game_id", [f"{season.game_id_prefix}{n:05d}" for n in range(1, len(games) + 1)])
    games.insert(2, "season", season.label)
    return games
