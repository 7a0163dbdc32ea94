"""One season of games, vectorised: injuries, minutes, box scores, team totals, shot zones and prop lines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nba_pipeline.league.seasons import Season
from nba_pipeline.simulator.players import League
from nba_pipeline.simulator.schedule import build_schedule

SHOT_ZONE_COVERAGE = 0.75  # share of games with play-by-play shot locations
_INJURY_REASONS = np.array(
    [
        "Left Ankle; Sprain",
        "Right Hamstring; Strain",
        "Left Knee; Soreness",
        "Illness",
        "Right Foot; Contusion",
        "Lower Back; Spasms",
        "Health and Safety Protocols",
        "Rest",
    ]
)


@dataclass(frozen=True)
class SeasonGames:
    schedule: pd.DataFrame  # one row per game, with final_at_et (when the box score becomes available)
    player_games: pd.DataFrame  # one row per rostered player per game (DNPs included), stats as integers
    team_games: pd.DataFrame  # one row per team per game
    injuries: pd.DataFrame  # one row per listed player per game
    props: pd.DataFrame  # one row per player with a points line per game: opening line and after each move
    referees: pd.DataFrame  # three officials per game
    shot_zones: pd.DataFrame  # one row per player with a field-goal attempt in a covered game


def simulate_season(league: League, season: Season, seed: int) -> SeasonGames:
    rng = np.random.default_rng([seed, season.start_year, 11])
    schedule = build_schedule(season, seed)
    n_games = len(schedule)
    overtimes = rng.choice([0, 1, 2], n_games, p=[0.955, 0.037, 0.008])
    pace = rng.normal(1.0, 0.03, n_games)
    schedule["overtimes"] = overtimes
    schedule["final_at_et"] = schedule["tipoff_et"] + pd.to_timedelta(150 + 15 * overtimes, unit="m")

    team_games = pd.concat(
        [
            schedule[["game_id", "game_date", "home_team_id", "away_team_id"]].set_axis(
                ["game_id", "game_date", "team_id", "opponent_id"], axis=1
            ).assign(is_home=True, game_idx=np.arange(n_games)),
            schedule[["game_id", "game_date", "away_team_id", "home_team_id"]].set_axis(
                ["game_id", "game_date", "team_id", "opponent_id"], axis=1
            ).assign(is_home=False, game_idx=np.arange(n_games)),
        ],
        ignore_index=True,
    )

    stints = league.stints[league.stints["season"] == season.label]
    pg = team_games.merge(stints, on="team_id")
    pg = pg[(pg["game_date"] >= pg["first_day"]) & (pg["game_date"] <= pg["last_day"])]
    pg = pg.merge(league.players, on="player_id").sort_values(["game_idx", "is_home", "player_id"], ignore_index=True)

    out, reason = _injury_status(rng, pg, season)
    pg["injury_status"] = np.where(out, "Out", None)
    pg["injury_reason"] = reason

    # Minutes: rotation weights with nightly noise; deep bench often not used; sum to the team's minutes.
    n = len(pg)
    weight = pg["rotation_minutes"].to_numpy() * rng.lognormal(0, 0.18, n)
    weight[(pg["rotation_minutes"].to_numpy() <= 5) & (rng.uniform(size=n) < 0.55)] = 0.0
    weight[out] = 0.0
    game_minutes = 48 + 5 * overtimes[pg["game_idx"].to_numpy()]
    team_seconds = game_minutes * 60 * 5
    key = pg["game_idx"].to_numpy() * 2 + pg["is_home"].to_numpy()
    share = weight / np.bincount(key, weights=weight, minlength=2 * n_games)[key]
    share = np.minimum(share, 0.21)  # nobody plays (much) more than the whole game
    share = share / np.bincount(key, weights=share, minlength=2 * n_games)[key]
    raw_sec = share * team_seconds
    sec = np.floor(raw_sec).astype(np.int64)
    shortfall = team_seconds - np.bincount(key, weights=sec, minlength=2 * n_games)[key]
    frac_rank = pd.Series(raw_sec - sec).groupby(key).rank(ascending=False, method="first").to_numpy()
    sec += (frac_rank <= shortfall).astype(np.int64)
    pg["seconds"] = sec
    played = sec > 0

    # Box score: per-36 rates scaled by minutes and the game's pace.
    m = sec / 2160.0 * pace[pg["game_idx"].to_numpy()]
    fga = rng.poisson(pg["fga36"].to_numpy() * m)
    fg3a = rng.binomial(fga, pg["three_rate"].to_numpy())
    fg3m = rng.binomial(fg3a, pg["p3"].to_numpy())
    fg2m = rng.binomial(fga - fg3a, pg["p2"].to_numpy())
    fta = rng.poisson(pg["fta_rate"].to_numpy() * pg["fga36"].to_numpy() * m)
    ftm = rng.binomial(fta, pg["pft"].to_numpy())
    stats = {
        "fgm": fg2m + fg3m,
        "fga": fga,
        "fg3m": fg3m,
        "fg3a": fg3a,
        "ftm": ftm,
        "fta": fta,
        "oreb": rng.poisson(pg["oreb36"].to_numpy() * m),
        "dreb": rng.poisson(pg["dreb36"].to_numpy() * m),
        "ast": rng.poisson(pg["ast36"].to_numpy() * m),
        "stl": rng.poisson(pg["stl36"].to_numpy() * m),
        "blk": rng.poisson(pg["blk36"].to_numpy() * m),
        "tov": rng.poisson(pg["tov36"].to_numpy() * m),
        "pf": np.minimum(rng.poisson(pg["pf36"].to_numpy() * m), 6),
    }
    for col, values in stats.items():
        pg[col] = values
    pg["pts"] = 2 * pg["fgm"] + pg["fg3m"] + pg["ftm"]

    # No ties: the home team's busiest player makes one more free throw.
    pts_by_side = np.bincount(key, weights=pg["pts"].to_numpy(), minlength=2 * n_games)
    tied = pts_by_side[0::2] == pts_by_side[1::2]
    busiest = pg[pg["is_home"]].groupby("game_idx")["seconds"].idxmax()
    fix = busiest[busiest.index.isin(np.flatnonzero(tied))].to_numpy()
    pg.loc[fix, ["ftm", "fta", "pts"]] += 1

    team = pg.groupby(["game_idx", "is_home"], sort=True)[list(stats) + ["pts"]].sum().reset_index()
    team = team.merge(team_games, on=["game_idx", "is_home"])
    # Team turnovers (shot-clock violations, 8-second calls) are not credited to any player.
    team["tov"] += np.minimum(rng.poisson(0.6, len(team)), 5)
    # player-minutes: 5 on the floor for the game's length (game_minutes above is per player row, not per game)
    team["minutes_played"] = ((48 + 5 * overtimes[team["game_idx"].to_numpy()]) * 5).astype(np.int64)
    opp_pts = team.set_index(["game_idx", "is_home"])["pts"]
    team["plus_minus"] = team["pts"].to_numpy() - opp_pts.reindex(
        pd.MultiIndex.from_arrays([team["game_idx"], ~team["is_home"]])
    ).to_numpy()

    margin = team.set_index(["game_idx", "is_home"])["plus_minus"].reindex(
        pd.MultiIndex.from_arrays([pg["game_idx"], pg["is_home"]])
    ).to_numpy()
    pg["plus_minus"] = np.round(margin * sec / (game_minutes * 60) + rng.normal(0, 3.5, n) * np.sqrt(m)).astype(int)
    pg["played"] = played
    starters = pg[played].groupby(["game_idx", "is_home"])["seconds"].rank(ascending=False, method="first") <= 5
    pg["starter"] = False
    pg.loc[starters[starters].index, "starter"] = True

    return SeasonGames(
        schedule=schedule,
        player_games=pg,
        team_games=team,
        injuries=_injury_report(rng, pg),
        props=_prop_lines(rng, pg),
        shot_zones=_shot_zones(rng, pg, schedule),
        referees=_referee_assignments(rng, schedule),
    )


def _injury_status(rng: np.random.Generator, pg: pd.DataFrame, season: Season) -> tuple[np.ndarray, np.ndarray]:
    """Injury spells in calendar days: about one per player per season, a week or two long."""
    pids = pg["player_id"].unique()
    n_spells = rng.poisson(1.0, len(pids))
    spell_pid = np.repeat(pids, n_spells)
    season_days = (season.last_day - season.first_day).days
    start = pd.Timestamp(season.first_day) + pd.to_timedelta(rng.integers(0, season_days, len(spell_pid)), unit="D")
    length = 1 + rng.geometric(0.12, len(spell_pid))
    spells = pd.DataFrame(
        {
            "player_id": spell_pid,
            "spell_start": start,
            "spell_end": start + pd.to_timedelta(length, unit="D"),
            "spell_reason": _INJURY_REASONS[rng.integers(0, len(_INJURY_REASONS), len(spell_pid))],
        }
    )
    hits = pg[["player_id", "game_date"]].reset_index().merge(spells, on="player_id")
    hits = hits[(hits["game_date"] >= hits["spell_start"]) & (hits["game_date"] < hits["spell_end"])]
    hits = hits.drop_duplicates("index")
    out = np.zeros(len(pg), dtype=bool)
    out[hits["index"].to_numpy()] = True
    reason = np.full(len(pg), None, dtype=object)
    reason[hits["index"].to_numpy()] = hits["spell_reason"].to_numpy()
    return out, reason


# When the simulated feeds publish, relative to the game date (US/Eastern): see LeagueSimulator.
INJURY_REPORT_VERSIONS = (pd.Timedelta(hours=-7), pd.Timedelta(hours=8))  # 17:00 the day before (Out list), 08:00 (final)
LINES_OPEN = pd.Timedelta(hours=9)
LINE_MOVES = (pd.Timedelta(hours=11), pd.Timedelta(hours=14), pd.Timedelta(hours=17))
REFEREES_POSTED = pd.Timedelta(hours=9)
OFFICIALS = 75
_ROLES = np.array(["Crew Chief", "Referee", "Umpire"])


def _injury_report(rng: np.random.Generator, pg: pd.DataFrame) -> pd.DataFrame:
    """Out players, plus a few questionable/probable tags on players who then play. `version`: 0 for rows on the
    first report (the Out list, the evening before), 1 for tags first listed on the final morning report."""
    tagged = (~pg["injury_status"].isna()) | (rng.uniform(size=len(pg)) < 0.04)
    report = pg.loc[tagged, ["game_id", "game_date", "team_id", "player_id", "player_name", "injury_status", "injury_reason"]]
    report = report.rename(columns={"injury_status": "status", "injury_reason": "reason"}).copy()
    soft = report["status"].isna()
    report.loc[soft, "status"] = np.where(rng.uniform(size=int(soft.sum())) < 0.6, "Questionable", "Probable")
    report.loc[soft, "reason"] = _INJURY_REASONS[rng.integers(0, len(_INJURY_REASONS), int(soft.sum()))]
    report["version"] = np.where(soft, 1, 0)
    return report.reset_index(drop=True)


def _book_form(pg: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """What a book knows of a player before a game: his points over his last 10 games on a roster and over the
    season so far (games played only), and how many earlier games he played."""
    pts = pg["pts"].where(pg["played"]).astype(float)
    by_player = pts.groupby(pg["player_id"])
    before = by_player.shift()
    last_10 = before.groupby(pg["player_id"]).rolling(10, min_periods=1).mean().reset_index(level=0, drop=True)
    played_before = before.notna().groupby(pg["player_id"]).cumsum()
    season = before.fillna(0).groupby(pg["player_id"]).cumsum() / played_before.where(played_before > 0)
    return last_10.reindex(pg.index), season, played_before


def _prop_lines(rng: np.random.Generator, pg: pd.DataFrame) -> pd.DataFrame:
    """Points lines for rotation players not ruled out, priced the way a book prices them before the game: from
    recent form (10-game and season averages; talent while a player has under 3 games), lifted when rotation
    teammates are ruled out — never from the result. Lines open in the morning and move through the day:
    `line_0` is the opening number, `line_k` the number after move k (LINE_MOVES)."""
    last_10, season, played_before = _book_form(pg)
    rotation_out = (pg["rotation_minutes"] >= 16) & pg["injury_status"].notna()
    team_out = rotation_out.groupby([pg["game_id"], pg["team_id"]]).transform("sum")
    offered = (pg["rotation_minutes"] >= 16) & pg["injury_status"].isna()
    o = pg[offered]
    per36 = o["fga36"] * ((1 - o["three_rate"]) * o["p2"] * 2 + o["three_rate"] * o["p3"] * 3) + o["fta_rate"] * o["fga36"] * o["pft"]
    talent = per36 * o["rotation_minutes"] / 36
    form = 0.55 * last_10[offered] + 0.45 * season[offered]
    expected = talent.where(played_before[offered] < 3, form).fillna(talent)
    expected = expected * (1 + 0.04 * np.minimum(team_out[offered], 3))
    line = np.maximum(np.floor(expected * rng.normal(1.0, 0.05, len(o))) + 0.5, 0.5)
    steps = np.where(rng.uniform(size=(len(o), len(LINE_MOVES))) < 0.2, rng.choice([-1.0, -0.5, 0.5, 1.0], (len(o), len(LINE_MOVES))), 0.0)
    moved = np.maximum(line.to_numpy()[:, None] + np.cumsum(steps, axis=1), 0.5)
    odds = rng.choice(np.array([-105, -110, -110, -115, -120]), (2, len(o)))
    return pd.DataFrame(
        {
            "game_date": o["game_date"].to_numpy(),
            "game_id": o["game_id"].to_numpy(),
            "player_id": o["player_id"].to_numpy(),
            "player_name": o["player_name"].to_numpy(),
            "team_id": o["team_id"].to_numpy(),
            "line_0": line.to_numpy(),
            **{f"line_{k + 1}": moved[:, k] for k in range(len(LINE_MOVES))},
            "over_odds": odds[0],
            "under_odds": odds[1],
        }
    )


def _referee_assignments(rng: np.random.Generator, schedule: pd.DataFrame) -> pd.DataFrame:
    """Three distinct officials per game (crew chief, referee, umpire) from a pool of OFFICIALS."""
    crews = np.argsort(rng.random((len(schedule), OFFICIALS)), axis=1)[:, :3]
    officials = 101 + crews.ravel()
    return pd.DataFrame(
        {
            "game_id": np.repeat(schedule["game_id"].to_numpy(), 3),
            "game_date": np.repeat(schedule["game_date"].to_numpy(), 3),
            "official_id": officials,
            "official_name": ("Official " + pd.Series(officials).astype(str)).to_numpy(),
            "role": np.tile(_ROLES, len(schedule)),
        }
    )


def _shot_zones(rng: np.random.Generator, pg: pd.DataFrame, schedule: pd.DataFrame) -> pd.DataFrame:
    """Paint / mid-range / three splits of each player's attempts, for the games play-by-play covers."""
    covered_games = schedule["game_id"][rng.uniform(size=len(schedule)) < SHOT_ZONE_COVERAGE]
    z = pg[pg["played"] & pg["game_id"].isin(covered_games)]
    two_a = (z["fga"] - z["fg3a"]).to_numpy()
    two_m = (z["fgm"] - z["fg3m"]).to_numpy()
    paint_share = np.where(z["position"].to_numpy() == "C", 0.85, 0.6)
    paint_fga = rng.binomial(two_a, paint_share)
    paint_fgm = rng.hypergeometric(paint_fga, two_a - paint_fga, two_m) if len(z) else np.array([], dtype=int)
    return pd.DataFrame(
        {
            "game_id": z["game_id"].to_numpy(),
            "game_date": z["game_date"].to_numpy(),
            "team_id": z["team_id"].to_numpy(),
            "player_id": z["player_id"].to_numpy(),
            "paint_fga": paint_fga,
            "paint_fgm": paint_fgm,
            "mid_fga": two_a - paint_fga,
            "mid_fgm": two_m - paint_fgm,
            "three_fga": z["fg3a"].to_numpy(),
            "three_fgm": z["fg3m"].to_numpy(),
        }
    )
