"""The cross-run gate: a step refuses to read an upstream date whose blocking check failed.

Dagster's blocking checks stop downstream steps only inside the run that evaluated them. Every other launch
path — a separate backfill run, a single-partition launch from the UI, automation, a re-execution — reaches
the asset function, so the asset function asks the instance, per upstream date it is about to read, whether
that date's latest evaluation of every blocking check passed. A failure names the upstream asset, date and check.
"""

from __future__ import annotations

from collections.abc import Collection

import dagster as dg
import pandas as pd
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
)

from nba_pipeline.checks.runner import BLOCKING_CHECKS
from nba_pipeline.metadata import markdown_table

MAX_LISTED = 20


class UpstreamCheckFailed(dg.Failure):
    """An upstream partition this step would read failed a blocking check."""


def blocked_upstream(context: dg.AssetExecutionContext, only_dates: Collection[str] | None = None) -> pd.DataFrame:
    """(upstream, game_date, check) of every failed blocking check among the partitions this step reads."""
    wanted = set(only_dates) if only_dates is not None else None
    failures = []
    for input_name, upstream in context.assets_def.keys_by_input_name.items():
        blocking = [dg.AssetCheckKey(upstream, name) for name in BLOCKING_CHECKS.get(upstream, ())]
        if not blocking:
            continue
        keys = context.asset_partition_keys_for_input(input_name)
        if wanted is not None:
            keys = [k for k in keys if k in wanted]
        infos = context.instance.event_log_storage.get_asset_check_partition_info(blocking, partition_keys=keys)
        failures += [
            (upstream.to_user_string(), info.partition_key, info.check_key.name)
            for info in infos
            if info.partition_key is not None and info.latest_execution_status == AssetCheckExecutionRecordStatus.FAILED
        ]
    frame = pd.DataFrame(failures, columns=["upstream", "game_date", "check"]).drop_duplicates()
    return frame.sort_values(["game_date", "upstream", "check"]).reset_index(drop=True)


def refuse_failed_upstream(context: dg.AssetExecutionContext, only_dates: Collection[str] | None = None) -> None:
    """Raise `UpstreamCheckFailed` naming each upstream asset, date and check if any read partition failed."""
    failed = blocked_upstream(context, only_dates)
    if failed.empty:
        return
    listed = "; ".join(f"{r.upstream} failed {r.check} on {r.game_date}" for r in failed.head(MAX_LISTED).itertuples())
    more = f" (+{len(failed) - MAX_LISTED} more)" if len(failed) > MAX_LISTED else ""
    raise UpstreamCheckFailed(
        description=(
            f"refusing to materialize {context.asset_key.to_user_string()}: it would read upstream dates that failed "
            f"a blocking check — {listed}{more}. Fix the upstream data and re-materialize those dates; "
            "downstream dates rebuild from there."
        ),
        metadata={
            "blocked_by": dg.MetadataValue.md(markdown_table(["upstream", "game date", "check"], failed.head(50).values.tolist())),
            "upstream_failures": len(failed),
        },
    )
