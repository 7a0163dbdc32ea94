"""The range validation as a Dagster job: launch `validate_range` from the Launchpad with a phase and a range;
its step's metadata is the table (threshold, actual, verdict per measure) and one number per measure."""


from typing import Any

import dagster as dg
from pydantic import Field

from nba_pipeline.config.resource import ThresholdsResource
from nba_pipeline.ops.validation import FAIL, PHASES, RangeValidation, validate_range, validation_markdown
from nba_pipeline.warehouse.base import Warehouse, WarehouseUnreachable


class RangeValidationConfig(dg.Config):
    phase: str = Field("analytics", description=f"one of {', '.join(PHASES)}")
    start: str = Field(description="first game date, ISO (YYYY-MM-DD)")
    end: str = Field(description="last game date, ISO, inclusive")


def validation_metadata(result: RangeValidation) -> dict[str, Any]:
    """The table as Markdown, the verdict, and `table.measure` / `table.measure.threshold` numbers."""
    metadata: dict[str, Any] = {
        "validation": dg.MetadataValue.md(validation_markdown(result)),
        "passed": dg.MetadataValue.bool(result.passed),
        "scheduled_games": dg.MetadataValue.int(result.scheduled_games),
        "failed_measures": dg.MetadataValue.text(", ".join(
            (result.table.loc[result.table["verdict"] == FAIL, "table"] + "."
             + result.table.loc[result.table["verdict"] == FAIL, "measure"]).tolist()) or "none"),
    }
    for row in result.table.itertuples(index=False):  # one entry per measure (~12), not per data row
        name = f"{row.table}.{row.measure}"
        if row.actual is not None:
            metadata[name] = dg.MetadataValue.float(float(row.actual))
        metadata[f"{name}.threshold"] = dg.MetadataValue.float(float(row.threshold))
    return metadata


@dg.op(description="Judges a phase over a date range against the range_validation thresholds.")
def validate_phase_range(context: dg.OpExecutionContext, config: RangeValidationConfig, warehouse: Warehouse,
                         thresholds: ThresholdsResource):
    try:
        result = validate_range(warehouse, config.phase, config.start, config.end, thresholds.load())
    except ValueError as err:  # a reversed or malformed range, an unknown phase: named, nothing read
        raise dg.Failure(description=f"bad range validation config: {err}") from None
    except WarehouseUnreachable as err:  # not a failed range: nothing could be judged
        raise dg.Failure(description=f"the warehouse cannot be read, nothing was judged: {err}") from None
    metadata = validation_metadata(result)
    if not result.passed:
        raise dg.Failure(description=f"phase {config.phase} {result.start}…{result.end} failed: "
                         f"{metadata['failed_measures'].value}", metadata=metadata)
    context.log.info(f"phase {config.phase} {result.start}…{result.end} passed every measure")
    return dg.Output(True, metadata=metadata)


@dg.job(name="validate_range", description="Range validation of one phase (raw, analytics, precompute, ml, predictions): the orchestrator's phase gate.")
def validate_range_job():
    validate_phase_range()
