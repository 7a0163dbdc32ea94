"""The 30 NBA franchises with their NBA.com team ids and tricodes."""

from __future__ import annotations

import pandas as pd

# (team_id, tricode, city, nickname, conference)
_TEAMS: tuple[tuple[int, str, str, str, str], ...] = (
    (1610612737, "ATL", "Atlanta", "Hawks", "East"),
    (1610612738, "BOS", "Boston", "Celtics", "East"),
    (1610612739, "CLE", "Cleveland", "Cavaliers", "East"),
    (1610612740, "NOP", "New Orleans", "Pelicans", "West"),
    (1610612741, "CHI", "Chicago", "Bulls", "East"),
    (1610612742, "DAL", "Dallas", "Mavericks", "West"),
    (1610612743, "DEN", "Denver", "Nuggets", "West"),
    (1610612744, "GSW", "Golden State", "Warriors", "West"),
    (1610612745, "HOU", "Houston", "Rockets", "West"),
    (1610612746, "LAC", "LA", "Clippers", "West"),
    (1610612747, "LAL", "Los Angeles", "Lakers", "West"),
    (1610612748, "MIA", "Miami", "Heat", "East"),
    (1610612749, "MIL", "Milwaukee", "Bucks", "East"),
    (1610612750, "MIN", "Minnesota", "Timberwolves", "West"),
    (1610612751, "BKN", "Brooklyn", "Nets", "East"),
    (1610612752, "NYK", "New York", "Knicks", "East"),
    (1610612753, "ORL", "Orlando", "Magic", "East"),
    (1610612754, "IND", "Indiana", "Pacers", "East"),
    (1610612755, "PHI", "Philadelphia", "76ers", "East"),
    (1610612756, "PHX", "Phoenix", "Suns", "West"),
    (1610612757, "POR", "Portland", "Trail Blazers", "West"),
    (1610612758, "SAC", "Sacramento", "Kings", "West"),
    (1610612759, "SAS", "San Antonio", "Spurs", "West"),
    (1610612760, "OKC", "Oklahoma City", "Thunder", "West"),
    (1610612761, "TOR", "Toronto", "Raptors", "East"),
    (1610612762, "UTA", "Utah", "Jazz", "West"),
    (1610612763, "MEM", "Memphis", "Grizzlies", "West"),
    (1610612764, "WAS", "Washington", "Wizards", "East"),
    (1610612765, "DET", "Detroit", "Pistons", "East"),
    (1610612766, "CHA", "Charlotte", "Hornets", "East"),
)

TEAMS = pd.DataFrame(_TEAMS, columns=["team_id", "tricode", "city", "nickname", "conference"])
TEAM_IDS: frozenset[int] = frozenset(TEAMS["team_id"])
TRICODES: frozenset[str] = frozenset(TEAMS["tricode"])
TRICODE_BY_ID: dict[int, str] = dict(zip(TEAMS["team_id"], TEAMS["tricode"]))
ID_BY_TRICODE: dict[str, int] = dict(zip(TEAMS["tricode"], TEAMS["team_id"]))
# West-coast home teams tip off late (Eastern time); a 10:30 pm ET game still belongs to its Eastern date.
PACIFIC_TRICODES: frozenset[str] = frozenset({"GSW", "LAC", "LAL", "POR", "SAC", "PHX"})
