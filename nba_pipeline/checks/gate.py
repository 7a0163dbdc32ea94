"""The cross-run gate: no step reads an upstream date that is not readable.

Dagster's blocking checks stop downstream steps only inside the run that evaluated them. Every other launch
path — a separate backfill run, a single-partition launch from the UI, automation, a re-execution, a run from
another instance — loads its inputs through the warehouse IO manager, and the IO manager calls `assert_readable`
before it reads a single row. So the gate is not a call an asset could forget: a test enumerates the Definitions
and fails if any asset reads another through a loader that is not a `GatedLoader`.

A date is readable when `readiness.not_readable` finds nothing for it on the instance *and* the warehouse agrees:
the run the instance saw pass that date is the run that last published it. A date published by a run this
instance never checked (another instance, a CLI run without DAGSTER_HOME, a restored file) is refused by name.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import dagster as dg
import pandas as pd

from nba_pipeline.checks.readiness import State, many_check_states
from nba_pipeline.dagster_private import reader_is_partitioned
from nba_pipeline.league.seasons import season_labels
from nba_pipeline.metadata import markdown_table
from nba_pipeline.partitions import FIRST_GAME_DATE, SEASON_LOOKBACK_DAYS

MAX_LISTED = 20
READS = "reads"  # input metadata key: how much of the mapped upstream history an input really reads
SEASON_SO_FAR = "season_so_far"


class UpstreamNotReadable(dg.Failure):
    """An upstream date this step would read has not passed its blocking checks (or the warehouse disagrees)."""


class GatedLoader:
    """Marker for input loaders that call `assert_readable` before reading (checked by a Definitions test)."""


def dates_read(context: dg.InputContext) -> list[str] | None:
    """The upstream dates this input reads: its mapped partitions, trimmed to the season for season history;
    None for an unpartitioned reader (it reads every published date)."""
    if not context.has_asset_partitions or not reader_is_partitioned(context):
        return None
    keys = list(context.asset_partition_keys)
    if context.definition_metadata.get(READS) != SEASON_SO_FAR or not keys or keys[0] == FIRST_GAME_DATE:
        return keys  # a window clipped at the first partition lies inside the first season
    # The mapping reaches SEASON_LOOKBACK_DAYS back from the first target date; windows never cross a season,
    # so of the history before that date only its own season is read (and gated).
    first_target = pd.Timestamp(keys[0]) + pd.Timedelta(days=SEASON_LOOKBACK_DAYS)
    days = pd.to_datetime(pd.Series(keys))
    season = season_labels(pd.Series([first_target])).iloc[0]
    same_season = season_labels(days).eq(season).fillna(False) if not pd.isna(season) else False
    keep = (days >= first_target) | same_season
    return [k for k, k_ok in zip(keys, keep) if k_ok]


def blocking_problems(
    instance: dg.DagsterInstance, upstream: dg.AssetKey, dates: Collection[str], published: pd.DataFrame | None,
    infos: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every reason a date of `upstream` may not be read: not readable on the instance, or not what the warehouse holds
    (`published`: its publish records, game_date / run_id / outcome; None: the warehouse is not compared)."""
    published = None if published is None else published.assign(asset=upstream.to_user_string())
    return many_blocking_problems(instance, [upstream], dates, published, infos)


def many_blocking_problems(
    instance: dg.DagsterInstance, assets: Sequence[dg.AssetKey], dates: Collection[str], published: pd.DataFrame | None,
    infos: pd.DataFrame | None = None, compared: Collection[str] | None = None,
) -> pd.DataFrame:
    """`blocking_problems` of several assets at once, asset by asset. `published`: the publish records (asset,
    game_date, run_id, outcome); `compared`: the assets (user strings) whose dates are compared with them (default:
    every asset)."""
    states = many_check_states(instance, assets, dates, infos)
    problems = states[states["state"] != State.PASSED.value]
    if published is None or states.empty:
        return problems.reset_index(drop=True)
    passed = states[states["state"] == State.PASSED.value].drop_duplicates(["asset", "game_date"])
    if compared is not None:
        passed = passed[passed["asset"].isin(list(compared))]
    merged = passed.merge(published[["asset", "game_date", "run_id", "outcome"]], on=["asset", "game_date"], how="left",
                          suffixes=("", "_wh"))
    unpublished = merged["run_id_wh"].isna()
    other_run = ~unpublished & (merged["run_id_wh"] != merged["run_id"])
    merged = merged[unpublished | other_run].copy()  # the messages are built for these rows only
    unpublished, other_run = unpublished[merged.index], other_run[merged.index]
    merged.loc[unpublished, "detail"] = (
        merged["asset"] + " on " + merged["game_date"] + " passed on this instance (run " + merged["run_id"].str[:8]
        + ") but the warehouse has no publish record of it"
    )
    merged.loc[other_run, "detail"] = (
        merged["asset"] + " on " + merged["game_date"] + ": the warehouse holds rows " + merged["outcome"].fillna("")
        + " by run " + merged["run_id_wh"].fillna("").str[:8] + ", which this instance did not see pass (it passed run "
        + merged["run_id"].str[:8] + ")"
    )
    merged["state"] = "warehouse disagrees"
    return pd.concat([problems, merged[problems.columns]], ignore_index=True)


def assert_readable(context: dg.InputContext, dates: Collection[str], published: pd.DataFrame | None) -> None:
    """Raise `UpstreamNotReadable`, naming each upstream date, check and why, if any date read is not readable."""
    problems = blocking_problems(context.instance, context.asset_key, dates, published)
    if problems.empty:
        return
    problems = problems.sort_values(["game_date", "check"]).reset_index(drop=True)
    listed = "; ".join(problems["detail"].head(MAX_LISTED))
    more = f" (+{len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
    counts = problems["state"].value_counts()
    raise UpstreamNotReadable(
        description=(
            f"refusing to materialize {context.op_def.name}: it would read upstream dates that have not passed their "
            f"blocking checks — {listed}{more}. Fix the upstream data and re-materialize those dates; downstream "
            "dates rebuild from there."
        ),
        metadata={
            "blocked_by": dg.MetadataValue.md(
                markdown_table(["upstream", "game date", "check", "state", "why"],
                               problems[["asset", "game_date", "check", "state", "detail"]].head(50).values.tolist())
            ),
            "upstream_problems": len(problems),
            **{f"upstream_{state.replace(' ', '_')}": int(n) for state, n in counts.items()},
        },
    )
