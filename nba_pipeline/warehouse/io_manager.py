"""Input loading: every read of a table or a model goes through the gate first.

Tables are written by their own steps (write–audit–publish, `nba_pipeline.tables`), never by an IO manager:
an asset that returned a DataFrame would publish it unaudited, so `handle_output` refuses one.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from nba_pipeline.checks.gate import (
    INPUT_WINDOWS,
    GatedLoader,
    assert_readable,
    blocking_problems,
    dates_read,
    explain_held_in_run,
    hold_back,
    held_back,
    refuse,
)
from nba_pipeline.partitions import game_date_partitions
from nba_pipeline.warehouse import STEP_SESSION_TAG, step_session_key
from nba_pipeline.warehouse.base import TableRef, Warehouse, WarehouseError


def table_of(context: dg.InputContext) -> TableRef:
    upstream = context.upstream_output
    schema = (upstream.definition_metadata or {}).get("schema") if upstream else None
    if not schema:
        raise dg.Failure(f"{context.asset_key.to_user_string()} declares no warehouse schema (metadata 'schema')")
    return TableRef(schema=str(schema), table=context.asset_key.path[-1])


class WarehouseIOManager(dg.ConfigurableIOManager, GatedLoader):
    """Loads the published rows of the upstream dates a step reads, after the gate let every one of them through."""

    warehouse: Warehouse

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        raise dg.Failure(
            f"{context.asset_key.to_user_string()} returned a {type(obj).__name__}: tables are published by their own "
            "step after their audit (nba_pipeline.tables.published_table), never written unaudited by an IO manager"
        )

    def load_input(self, context: dg.InputContext):
        ref = table_of(context)
        asset = context.asset_key.to_user_string()
        dates = dates_read(context)
        # the records, the gate's verdict and the rows: one connection, left open for the step's next input and its
        # body when the step ends the session itself (a failed load closes it)
        keep = context.op_def.tags.get(STEP_SESSION_TAG) == "step"
        try:
            return self._load(context, ref, asset, dates, keep)
        except WarehouseError as err:  # the warehouse's own words, not a traceback wrapped in Dagster's
            raise dg.Failure(description=f"cannot read {ref.name}: {err}") from None

    def _load(self, context: dg.InputContext, ref: TableRef, asset: str, dates, keep: bool):
        step = step_session_key(context.step_context.run_id, context.op_def.name)
        with self.warehouse.session(context.log, step=step, keep=keep):
            published = self.warehouse.publish_records(asset, dates, context.log)
            if dates is None:  # an unpartitioned reader (the model) reads every date the warehouse holds
                stray = self.warehouse.unrecorded_dates(ref, asset, context.log)
                if stray:
                    raise dg.Failure(
                        description=f"refusing to read {ref.name}: it holds rows of {len(stray)} date(s) that no "
                        f"publish recorded ({', '.join(stray[:10])}) — written outside the pipeline; re-materialize them"
                    )
                readable = _readable_history(context, published, step)
                return self.warehouse.read(ref, readable, context.log)
            window = INPUT_WINDOWS.get((context.op_def.name, context.name))
            if window is None:  # not a step that can build some of its dates without the others
                assert_readable(context, dates, published)
                return self.warehouse.read(ref, dates, context.log)
            problems = blocking_problems(context.instance, context.asset_key, dates, published)
            if problems.empty:
                return self.warehouse.read(ref, dates, context.log)
            problems = explain_held_in_run(problems, context.step_context.run_id, asset)
            mine = _step_keys(context)
            held = held_back(mine, problems, window, asset)
            if len(set(held["game_date"])) >= len(mine):
                refuse(context, problems, held=len(mine))
            hold_back(step, held)
            bad = set(problems["game_date"])
            context.log.warning(
                f"{context.op_def.name}: holding back {held['game_date'].nunique()} of its {len(mine)} date(s) "
                f"({_listed(held['game_date'])}): they read {asset} dates that are not readable ({_listed(sorted(bad))}) "
                f"— {problems.sort_values('game_date')['detail'].iloc[0]}. The other dates are built."
            )
            return self.warehouse.read(ref, [d for d in dates if d not in bad], context.log)


def _step_keys(context: dg.InputContext) -> list[str]:
    """The partition keys of the step reading this input (its own game dates)."""
    step = context.step_context
    if step.has_partition_key:
        return [step.partition_key]
    return list(game_date_partitions.get_partition_keys_in_range(step.partition_key_range))


def _listed(dates, n: int = 5) -> str:
    dates = list(dates)
    return ", ".join(dates[:n]) + (f" (+{len(dates) - n} more)" if len(dates) > n else "")


def _readable_history(context: dg.InputContext, published, step: str) -> list[str]:
    """An unpartitioned reader (the model) reads every published date that is readable; the others are left out,
    named in the log and handed to the step (`gate.take_held_back`) for its metadata: a quarantined or blocked date
    is not history to learn from."""
    dates = published["game_date"].tolist()
    problems = blocking_problems(context.instance, context.asset_key, dates, published)
    if problems.empty:
        return dates
    bad = sorted(set(problems["game_date"]))
    context.log.warning(
        f"{context.op_def.name}: leaving out {len(bad)} {context.asset_key.to_user_string()} date(s) that are not "
        f"readable ({_listed(bad)}) — {problems.sort_values('game_date')['detail'].iloc[0]}"
    )
    first = problems.sort_values(["game_date", "check"]).drop_duplicates("game_date")
    hold_back(step, pd.DataFrame({"game_date": first["game_date"].to_numpy(), "upstream": context.asset_key.to_user_string(),
                                  "upstream_date": first["game_date"].to_numpy(), "why": first["detail"].to_numpy()}))
    return [d for d in dates if d not in set(bad)]


class ModelStore(dg.ConfigurableIOManager, GatedLoader):
    """Trained models as pickles, one file per run (history kept), the latest named in `<asset>/LATEST`."""

    base_dir: str = Field(description="Folder holding one sub-folder of model versions per asset.")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        folder = Path(self.base_dir) / context.asset_key.path[-1]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{context.run_id}.pickle"
        target.write_bytes(pickle.dumps(obj))
        tmp = folder / f".LATEST.{os.getpid()}"
        tmp.write_text(target.name)
        os.replace(tmp, folder / "LATEST")
        context.add_output_metadata({"path": str(target)})

    def load_input(self, context: dg.InputContext):
        assert_readable(context, [], None)  # a model has no per-date checks; its own step refuses bad training data
        folder = Path(self.base_dir) / context.asset_key.path[-1]
        latest = folder / "LATEST"
        if not latest.exists():
            raise dg.Failure(f"no trained {context.asset_key.to_user_string()} in {folder}: materialize it first")
        return pickle.loads((folder / latest.read_text().strip()).read_bytes())
