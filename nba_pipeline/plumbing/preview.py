"""The Beta and Preview Dagster features the platform relies on, acknowledged once, by name.

Dagster warns at import for every decorated asset or check that uses one (36 lines before the UI's first line,
most of them the same two). Each feature below is acknowledged with why the platform needs it; its warning is
silenced by its exact message, so a feature not listed here still warns. `NBA_PIPELINE_PREVIEW_WARNINGS=show`
shows them all again (the test that keeps this list exact runs with it). Standard library only: importing the
package must stay cheap (`nba-pipeline` checks its arguments before importing Dagster).
"""

from __future__ import annotations

import os
import re
import warnings

SHOW = "NBA_PIPELINE_PREVIEW_WARNINGS"
# the start of Dagster's message -> why the platform uses the feature
ACKNOWLEDGED = {
    "Parameter `backfill_policy` of function `asset`":
        "a range backfill of any asset is one run over the whole range (BackfillPolicy.single_run): vectorised",
    "Specifying a partitions_def on an AssetCheckSpec":
        "each check's verdict is per game date, so the UI's check dashboard and the gate read one date's result",
    "Parameter `allow_nonexistent_upstream_partitions` of initializer `TimeWindowPartitionMapping.__init__`":
        "a date's 200-day history window reaches before the first partition early in history (the window is shorter)",
    "Parameter `use_user_code_server` of initializer `AutomationConditionSensorDefinition.__init__`":
        "the automation sensor evaluates DateNotReadable, the gate's own predicate, in the code location",
    "Parameter `include_sources` of function `AssetSelection.all`":
        "the automation sensor targets every asset the platform materializes, and no external source asset",
}


def acknowledge() -> None:
    """Silence exactly the acknowledged warnings (unless NBA_PIPELINE_PREVIEW_WARNINGS=show)."""
    if os.environ.get(SHOW) == "show":
        return
    for message in ACKNOWLEDGED:
        warnings.filterwarnings("ignore", message=re.escape(message))
