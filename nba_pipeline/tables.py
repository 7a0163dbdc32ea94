"""What every daily table asset shares, in one place: its phase (Dagster group and warehouse schema), game-date
partitions replaced by date, single-run range backfills, the warehouse pool, and — below raw — gated automation."""

from __future__ import annotations

from typing import Any

import dagster as dg

from nba_pipeline.automation import gated_eager
from nba_pipeline.partitions import game_date_partitions
from nba_pipeline.warehouse import WAREHOUSE_POOL, stored_in


def daily_table(phase: str, automation_condition: dg.AutomationCondition | None = None, **extra: Any) -> dict[str, Any]:
    """`@dg.asset` arguments for a table of `phase`; raw feeds are scheduled, every later phase follows upstream."""
    if automation_condition is None and phase != "raw":
        automation_condition = gated_eager()
    return dict(
        group_name=phase,
        partitions_def=game_date_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata=stored_in(phase),
        kinds={"pandas"},
        automation_condition=automation_condition,
        pool=WAREHOUSE_POOL,
        **extra,
    )
