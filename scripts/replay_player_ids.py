"""Builds nba_pipeline/data/season_2023_24/player_ids.csv: every player name of the replay's 2023-24 box scores
matched to his NBA.com person id through nba_api's static player list.

    python scripts/replay_player_ids.py path/to/nba_api/stats/library/data.py

The list is swar/nba_api's `src/nba_api/stats/library/data.py` (MIT; @ 15eb0ed, "Data last updated: Nov, 13 2025").
A name matches by its normalised form (`sources.players.normalise_names`: accents, case, punctuation and
Jr/II/III ignored); several NBA.com players of one normalised name: the highest id (the most recent player); a name
the list lacks is left out (the replay keeps its derived id for it, and says so)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pandas as pd

from nba_pipeline.sources.players import normalise_names
from nba_pipeline.sources.replay import BOX_SCORES_FILE, DATA_DIR, PLAYER_IDS_FILE, read_box_score_names


def main(data_py: str) -> int:
    tree = ast.parse(Path(data_py).read_text())
    rows = next(ast.literal_eval(n.value) for n in tree.body
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "players")
    static = pd.DataFrame(rows, columns=["nba_person_id", "last", "first", "nba_name", "active"])
    static["key"] = normalise_names(static["nba_name"])
    static = static.sort_values("nba_person_id").drop_duplicates("key", keep="last")
    names = pd.DataFrame({"player_name": sorted(read_box_score_names(Path(DATA_DIR) / BOX_SCORES_FILE))})
    names["key"] = normalise_names(names["player_name"])
    matched = names.merge(static[["key", "nba_person_id", "nba_name"]], on="key", how="left")
    missing = matched[matched["nba_person_id"].isna()]
    print(f"{len(matched) - len(missing)} of {len(matched)} names matched; not in the list: {list(missing['player_name'])}")
    out = matched.dropna(subset=["nba_person_id"]).astype({"nba_person_id": int})
    out[["player_name", "nba_person_id", "nba_name"]].to_csv(Path(DATA_DIR) / PLAYER_IDS_FILE, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
