"""Reference facts about the league: teams and season calendars (shared by sources, checks and windows)."""
