"""Vendor player names to NBA.com person ids: the directory (NBA.com's `commonallplayers`, current season: id, name,
team) and the matching rules, vectorised.

Why not `nba_api`'s static player list (`nba_api.stats.static.players`): it has ids and names but no teams, and a
line must name its player's team (precompute places a line on the slate by team); it is also only as current as
the installed release, where a rookie or a two-way signing of this week is missing. `commonallplayers` is the
same NBA.com id space, current, with each player's team, one request a season.

A vendor name matches a player of one of the game's two teams:
1. by its normalised form (accents, case, punctuation, hyphens and the suffixes Jr/Sr/II/III/IV ignored:
   'Dennis Schroder' = 'Dennis Schröder', 'Dorian Finney Smith' = 'Dorian Finney-Smith', 'Wendell Carter' =
   'Wendell Carter Jr.', 'RJ Barrett Jr.' = 'RJ Barrett');
2. else by last name and first initial ('J. Isaac' = 'Jonathan Isaac', 'Nicolas Claxton' = 'Nic Claxton',
   'Cam Johnson' = 'Cameron Johnson'), or a one-word name by last name, only when exactly one player of the two
   teams has them.
A name with no candidate, or with several, is unmatched: its row keeps no player id and the raw `vendor_names_matched`
check names it; `match_players` returns why, for the fetch's log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from nba_pipeline.league.seasons import seasons_overlapping
from nba_pipeline.league.teams import TRICODES

SUFFIXES = r"\b(?:jr|sr|ii|iii|iv|v)\b"
DIRECTORY_COLUMNS = ["player_id", "player_name", "team_abbreviation"]


def normalise_names(names: pd.Series) -> pd.Series:
    """'Dennis Schröder' -> 'dennis schroder'; 'Wendell Carter Jr.' -> 'wendell carter'; 'J. Isaac' -> 'j isaac'."""
    text = names.astype("string").str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.lower()
    text = text.str.replace(r"[-–]", " ", regex=True).str.replace(r"[^a-z ]", "", regex=True)
    return text.str.replace(SUFFIXES, "", regex=True).str.split().str.join(" ")


def _initial_last(normalised: pd.Series) -> pd.Series:
    """'j isaac' for 'jonathan isaac'; a one-word name is its own key against every player's last name (' wagner')."""
    parts = normalised.str.split(" ")
    return (parts.str[0].str[0] + " " + parts.str[-1]).where(parts.str.len() > 1, " " + parts.str[-1])


def parse_common_all_players(payload: dict[str, Any]) -> pd.DataFrame:
    """NBA.com `commonallplayers` (IsOnlyCurrentSeason=1): one row per player on a roster now, with his team."""
    sets = payload.get("resultSets")
    found = [s for s in sets or [] if s.get("name") == "CommonAllPlayers"]
    if not found:
        raise ValueError(f"commonallplayers: no CommonAllPlayers result set (have {[s.get('name') for s in sets or []]})")
    rows = pd.DataFrame(found[0]["rowSet"], columns=found[0]["headers"])
    missing = [c for c in ("PERSON_ID", "DISPLAY_FIRST_LAST", "TEAM_ABBREVIATION") if c not in rows.columns]
    if missing:
        raise ValueError(f"commonallplayers: missing column(s) {missing}")
    rows = rows[rows["TEAM_ABBREVIATION"].isin(TRICODES)]  # free agents have no team: no line can be theirs
    return pd.DataFrame(
        {
            "player_id": rows["PERSON_ID"].astype("Int64"),
            "player_name": rows["DISPLAY_FIRST_LAST"].astype("string"),
            "team_abbreviation": rows["TEAM_ABBREVIATION"].astype("string"),
        }
    ).reset_index(drop=True)


def season_directory(client: Any, cache: dict[str, pd.DataFrame], start: dt.date, end: dt.date) -> pd.DataFrame:
    """NBA.com rosters (commonallplayers, current season) for the seasons of start..end through `client` (an
    `NbaStatsApiSource`), each season asked for once per `cache` (the source's, for one run)."""
    frames = []
    for season in seasons_overlapping(start, end):
        if season.label not in cache:
            payload = client.get("commonallplayers", {"LeagueID": "00", "Season": season.label, "IsOnlyCurrentSeason": 1})
            cache[season.label] = parse_common_all_players(payload)
        frames.append(cache[season.label])
    return pd.concat(frames, ignore_index=True).drop_duplicates("player_id") if frames else pd.DataFrame(columns=DIRECTORY_COLUMNS)


def match_players(lines: pd.DataFrame, directory: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """`lines` (vendor_name, home_team, away_team, …) with player_id, player_name (NBA.com's spelling when matched,
    the vendor's otherwise) and team_abbreviation; and per unmatched vendor name and game, why."""
    if lines.empty:
        out = lines.assign(player_id=pd.Series(dtype="Int64"), player_name=lines["vendor_name"], team_abbreviation=pd.Series(dtype="string"))
        return out, pd.Series(dtype="string")
    lines = lines.reset_index(drop=True)
    roster = directory.assign(_full=normalise_names(directory["player_name"]))
    roster["_short"] = _initial_last(roster["_full"])
    games = lines[["home_team", "away_team"]].drop_duplicates()
    sides = pd.concat([games.assign(team_abbreviation=games[s]) for s in ("home_team", "away_team")], ignore_index=True)
    in_game = sides.merge(roster, on="team_abbreviation")  # the players of each game's two teams

    names = lines[["vendor_name", "home_team", "away_team"]].drop_duplicates()
    names = names.assign(_full=normalise_names(names["vendor_name"]))
    names["_short"] = _initial_last(names["_full"])
    game = ["home_team", "away_team"]
    by_full = names.merge(in_game.drop(columns="_short"), on=[*game, "_full"])
    by_short = pd.concat([
        names.merge(in_game.drop(columns="_full"), on=[*game, "_short"]),
        names.merge(in_game.drop(columns="_full").assign(_short=" " + in_game["_short"].str.split(" ").str[-1]), on=[*game, "_short"]),
    ], ignore_index=True)
    key = ["vendor_name", *game]
    full_count = by_full.groupby(key)["player_id"].transform("nunique")
    short_count = by_short.groupby(key)["player_id"].transform("nunique")
    exact = by_full[full_count == 1].drop_duplicates(key)
    initial = by_short[(short_count == 1) & ~by_short.set_index(key).index.isin(by_full.set_index(key).index)].drop_duplicates(key)
    found = pd.concat([exact, initial], ignore_index=True)[[*key, "player_id", "player_name", "team_abbreviation"]]

    out = lines.merge(found, on=key, how="left")
    out["player_name"] = out["player_name"].fillna(out["vendor_name"])
    unmatched = names[~names.set_index(key).index.isin(found.set_index(key).index)]
    candidates = pd.concat([by_full, by_short], ignore_index=True).drop_duplicates([*key, "player_id"])
    listed = candidates.assign(c=candidates["player_name"] + " (" + candidates["player_id"].astype(str) + ", " + candidates["team_abbreviation"] + ")")
    listed = listed.groupby(key)["c"].agg(", ".join)
    unmatched = unmatched.merge(listed.rename("c").reset_index(), on=key, how="left")
    said = ("'" + unmatched["vendor_name"] + "' in " + unmatched["away_team"] + "@" + unmatched["home_team"] + ": "
            + ("several NBA.com players fit: " + unmatched["c"]).fillna("no NBA.com player of either team fits"))
    return out, said.astype("string").reset_index(drop=True)
