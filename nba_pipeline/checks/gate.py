"""The cross-run gate: no step reads an upstream date that is not readable.

Dagster's blocking checks stop downstream steps only inside the run that evaluated them. Every other launch
path — a separate backfill run, a single-partition launch from the UI, automation, a re-execution, a run from
another instance — loads its inputs through the warehouse IO manager, and the IO manager calls `assert_readable`
before it reads a single row. So the gate is not a call an asset could forget: a test enumerates the Definitions
and fails if any asset reads another through a loader that is not a `GatedLoader`.

A date is readable when `readiness.not_readable` finds nothing for it on the instance *and* the warehouse agrees:
the run the instance saw pass that date is the run that last published it. A date published by a run this
instance never checked (another instance, a CLI run without DAGSTER_HOME, a restored file) is refused by name.

The dates that pass carry on. Dagster's in-run blocking is per step (one bad date of a range would stop every
downstream date of the run), so a range step instead holds back exactly its dates that read an unreadable upstream
date (`held_back`: through the input's own window, within the season for season reads) and builds the others;
only a step all of whose dates are held back fails. `published_table` steps register their inputs' windows
(`register_input_window`) and take their held-back dates (`take_held_back`) before they compute.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import dagster as dg
import pandas as pd

from nba_pipeline.checks.readiness import State, many_check_states
from nba_pipeline.datetimes import to_datetime
from nba_pipeline.plumbing.dagster_private import reader_is_partitioned
from nba_pipeline.league.seasons import season_labels
from nba_pipeline.metadata import markdown_table
from nba_pipeline.partitions import FIRST_GAME_DATE, SEASON_LOOKBACK_DAYS

MAX_LISTED = 20
READS = "reads"  # input metadata key: how much of the mapped upstream history an input really reads
SEASON_SO_FAR = "season_so_far"


InputWindow = tuple[int, int, bool]  # (start offset, end offset) in days of the dates a date reads, within its season
INPUT_WINDOWS: dict[tuple[str, str], InputWindow] = {}  # (asset, input name) -> its window, by `published_table`
_HELD_BACK: dict[str, pd.DataFrame] = {}  # step session key -> its dates held back so far by its inputs (HELD_COLUMNS)
HELD_COLUMNS = ["game_date", "upstream", "upstream_date", "why"]


def register_input_window(asset: str, input_name: str, mapping: dg.PartitionMapping | None, metadata: dict) -> None:
    lo = getattr(mapping, "start_offset", 0) if isinstance(mapping, dg.TimeWindowPartitionMapping) else 0
    hi = getattr(mapping, "end_offset", 0) if isinstance(mapping, dg.TimeWindowPartitionMapping) else 0
    INPUT_WINDOWS[(asset, input_name)] = (int(lo), int(hi), metadata.get(READS) == SEASON_SO_FAR)


def date_calendar(dates: Sequence[str]) -> pd.DataFrame:
    """game_date, day, group (the season label; an off-season date is a group of its own) of each date."""
    day = to_datetime(pd.Series(list(dates), dtype=object))
    season = season_labels(day)
    group = season.astype(object).where(season.notna(), "off-season " + pd.Series(list(dates), dtype=object))
    return pd.DataFrame({"game_date": list(dates), "day": day, "group": group})


def first_bad_upstream(dates: pd.DataFrame, bad: pd.DataFrame, lo: int, hi: int, in_season: bool) -> pd.DataFrame:
    """For each date D of `dates` (game_date, day, group), the first bad upstream date it reads (`bad`: game_date,
    day, group, ...; renamed cause_from / bad_day) — within [D+lo, D+hi], and, for a season read, in D's season."""
    left = dates.assign(reach=dates["day"] + pd.Timedelta(days=lo)).sort_values("reach")
    right = bad.rename(columns={"game_date": "cause_from", "day": "bad_day"}).sort_values("bad_day")
    if not in_season:
        left, right = left.drop(columns="group"), right.drop(columns="group")
    hit = pd.merge_asof(left, right, left_on="reach", right_on="bad_day", by="group" if in_season else None,
                        direction="forward")
    ok = hit["bad_day"].notna() & (to_datetime(hit["bad_day"]) <= hit["day"] + pd.Timedelta(days=hi))
    return hit[ok.to_numpy()]


def held_back(step_dates: Sequence[str], problems: pd.DataFrame, window: InputWindow, upstream: str) -> pd.DataFrame:
    """The step's dates that read a date of `problems` (the gate's rows for one upstream) through `window`,
    each with the first such upstream date and why it is not readable (HELD_COLUMNS)."""
    if problems.empty or not step_dates:
        return pd.DataFrame(columns=HELD_COLUMNS)
    root = problems["root"].fillna(problems["detail"]) if "root" in problems else problems["detail"]
    ranked = problems.assign(why=root, failed_first=problems["state"].ne("failed"))
    why = ranked.sort_values(["game_date", "failed_first", "check"]).drop_duplicates("game_date").set_index("game_date")["why"]
    bad = date_calendar(sorted(why.index)).assign(why=lambda f: f["game_date"].map(why))
    hit = first_bad_upstream(date_calendar(sorted(step_dates)), bad, *window)
    return pd.DataFrame({
        "game_date": hit["game_date"].to_numpy(), "upstream": upstream, "upstream_date": hit["cause_from"].to_numpy(),
        "why": hit["why"].to_numpy(),
    }, columns=HELD_COLUMNS).sort_values("game_date").reset_index(drop=True)


def hold_back(step: str, dates: pd.DataFrame) -> None:
    """Record dates the step `step` (its session key) must not build, for its body to take."""
    if not dates.empty:
        before = _HELD_BACK.get(step)
        _HELD_BACK[step] = dates if before is None else pd.concat([before, dates], ignore_index=True)


def take_held_back(step: str) -> pd.DataFrame:
    """The dates the step's inputs held back (the first reason per date), forgotten once taken."""
    held = _HELD_BACK.pop(step, None)
    if held is None:
        return pd.DataFrame(columns=HELD_COLUMNS)
    return held.sort_values(["game_date", "upstream"]).drop_duplicates("game_date").reset_index(drop=True)


_HELD_IN_RUN: dict[tuple[str, str], pd.DataFrame] = {}  # (run, asset) -> the dates its step held back


def note_held_in_run(run_id: str, asset: str, held: pd.DataFrame) -> None:
    """Remember what a step held back, so a later step of the same run (same process) can say why those dates are
    not readable by the root cause rather than as 'planned and not evaluated yet'."""
    if not held.empty:
        _HELD_IN_RUN[(run_id, asset)] = held


def explain_held_in_run(problems: pd.DataFrame, run_id: str, asset: str) -> pd.DataFrame:
    held = _HELD_IN_RUN.get((run_id, asset))
    if held is None or problems.empty:
        return problems
    why = held.set_index("game_date")
    mine = problems["game_date"].isin(why.index)
    if not mine.any():
        return problems
    rows = why.reindex(problems.loc[mine, "game_date"])
    problems = problems.copy()
    problems["root"] = problems["root"] if "root" in problems else None
    problems.loc[mine, "root"] = rows["why"].to_numpy()  # the first cause, however many steps held it back since
    problems.loc[mine, "detail"] = (
        asset + " on " + problems.loc[mine, "game_date"] + " was held back in this run — " + rows["why"].to_numpy()
    )
    problems.loc[mine, "state"] = "held back"
    return problems


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
    days = to_datetime(pd.Series(keys))
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
    if not problems.empty:
        refuse(context, problems)


def refuse(context: dg.InputContext, problems: pd.DataFrame, held: int | None = None) -> None:
    """Raise `UpstreamNotReadable` for `problems` (the gate's rows), naming each upstream date, check and why."""
    problems = problems.sort_values(["game_date", "check"]).reset_index(drop=True)
    listed = "; ".join(problems["detail"].head(MAX_LISTED))
    more = f" (+{len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
    counts = problems["state"].value_counts()
    raise UpstreamNotReadable(
        description=(
            f"refusing to materialize {context.op_def.name}: "
            + (f"every one of its {held} date(s) reads" if held else "it would read")
            + f" upstream dates that have not passed their blocking checks — {listed}{more}. Fix the upstream data and "
            "re-materialize those dates; downstream dates rebuild from there."
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
