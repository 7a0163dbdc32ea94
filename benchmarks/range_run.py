"""One single-run range materialization on the DAGSTER_HOME instance: the real graph or its no-op twin.

    python -m benchmarks.range_run real|noop|bare START END [GROUP ...]   (groups: raw analytics precompute ml predictions)

noop: no-op twins that record what the real assets record (a materialization per date, each check's run result
and its per-date evaluations); bare: no-op twins with run-level check results only (Dagster's bare floor).
"""

from __future__ import annotations

import sys

import dagster as dg

from nba_pipeline.plumbing.dagster_private import log_check_evaluations, materialization_targets
from nba_pipeline.definitions import defs

RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


class NoopIOManager(dg.IOManager):
    def handle_output(self, context, obj) -> None:
        return None

    def load_input(self, context):
        return None


def noop_twin(assets_def: dg.AssetsDefinition, per_date: bool) -> dg.AssetsDefinition:
    """Same key, inputs, partition mappings, partitions, backfill policy and check specs; no data work."""
    key = assets_def.key
    specs = list(assets_def.check_specs)
    ins = {
        name: dg.AssetIn(key=k, partition_mapping=assets_def.get_partition_mapping_for_dep(k))
        for name, k in assets_def.keys_by_input_name.items()
    }

    @dg.asset(
        key=key,
        ins=ins,
        partitions_def=assets_def.partitions_def,
        backfill_policy=assets_def.backfill_policy,
        check_specs=specs,
        group_name=assets_def.group_names_by_key.get(key),
        io_manager_key="noop_io",
    )
    def _noop(context, **_inputs):
        yield dg.Output(None)
        ranged = per_date and context.has_partition_key_range and not context.has_partition_key
        targets = materialization_targets(context.instance, context.asset_key, context.run.run_id, context.partition_keys) if ranged else {}
        if targets:  # as nba_pipeline/checks/runner.py logs them: every check's per-date evaluations as one batch
            log_check_evaluations(context, [
                dg.AssetCheckEvaluation(
                    asset_key=spec.asset_key, check_name=spec.name, passed=True, partition=key, target_materialization_data=target
                )
                for spec in specs for key, target in targets.items()
            ])
        for spec in specs:
            yield dg.AssetCheckResult(check_name=spec.name, passed=True)

    return _noop


def range_job(kind: str, groups: list[str]) -> dg.JobDefinition:
    """The selected phase groups of the shipped Definitions, or the same selection over no-op twins."""
    selection = dg.AssetSelection.groups(*groups) if groups else dg.AssetSelection.all()
    if kind == "real":
        return dg.Definitions.merge(
            defs, dg.Definitions(jobs=[dg.define_asset_job("benchmark", selection=selection)])
        ).resolve_job_def("benchmark")
    twins = [noop_twin(a, per_date=kind == "noop") for a in defs.resolve_asset_graph().assets_defs if a.is_executable]
    noop_defs = dg.Definitions(
        assets=twins,
        jobs=[dg.define_asset_job("benchmark", selection=selection)],
        resources={"noop_io": NoopIOManager()},
        executor=dg.in_process_executor,
    )
    return noop_defs.resolve_job_def("benchmark")


def main(kind: str, start: str, end: str, *groups: str) -> None:
    # the console at INFO, as `nba-pipeline materialize` runs (at DEBUG it prints every stored event)
    result = range_job(kind, list(groups)).execute_in_process(
        instance=dg.DagsterInstance.get(), tags=dict(zip(RANGE_TAGS, (start, end))),
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    assert result.success


if __name__ == "__main__":
    main(*sys.argv[1:])
