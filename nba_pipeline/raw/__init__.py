"""Raw phase: the source feeds exactly as delivered, one table per feed, partitioned by game date."""
