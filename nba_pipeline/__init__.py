"""nba_pipeline: NBA player-props data platform as daily-partitioned Dagster assets."""

from nba_pipeline.plumbing.preview import acknowledge as _acknowledge_preview_features

_acknowledge_preview_features()  # the Beta/Preview features the definitions use, by name (plumbing/preview.py)
