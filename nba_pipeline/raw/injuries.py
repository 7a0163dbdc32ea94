"""Which version of the injury report counts for a game: raw.injury_report keeps every version the league published
(`report_at`), and a game's players are those of the latest version published before its tip-off.

A version is the whole report: a player listed Out at 13:30 and no longer listed (or listed Available) at 17:30 is
not out for a 19:00 game. So the version is chosen per game date and game (the latest `report_at` among all rows of
the date that is not after the game's tip-off), and the team's rows of that version are its list; a team with no
rows in that version has nobody listed. Where the schedule gives no tip-off (the replay's files) the latest version
of the date counts; a version published after tip-off never does, so a row built before the game and one built
after it read the same list.
"""

from __future__ import annotations

import pandas as pd


def latest_before_tipoff(report: pd.DataFrame, schedule: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of `report` (raw.injury_report) that are on the version in force at each game's tip-off."""
    if report.empty:
        return report
    versions = report[["game_date", "report_at"]].drop_duplicates()
    teams = report[["game_date", "team_id"]].drop_duplicates()
    if schedule is not None and len(schedule) and "tipoff_et" in schedule:
        sides = pd.concat(
            [schedule[["game_date", side, "tipoff_et"]].rename(columns={side: "team_id"}) for side in ("home_team_id", "away_team_id")],
            ignore_index=True,
        )
        sides = sides.astype({"team_id": report["team_id"].dtype})
        teams = teams.merge(sides.drop_duplicates(["game_date", "team_id"]), on=["game_date", "team_id"], how="left")
    else:
        teams = teams.assign(tipoff_et=pd.NaT)
    candidates = teams.merge(versions, on="game_date")
    before = candidates["tipoff_et"].isna() | (candidates["report_at"] <= candidates["tipoff_et"])
    chosen = candidates[before].groupby(["game_date", "team_id"], as_index=False)["report_at"].max()
    return report.merge(chosen, on=["game_date", "team_id", "report_at"]).reset_index(drop=True)[report.columns]
