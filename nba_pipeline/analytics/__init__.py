"""Analytics phase: team and player game summaries computed from the raw feeds."""
