"""A run's steps, when each started and ended, from their start and end events alone.

Dagster's `get_run_step_stats` reads and deserializes every event of the run a step could have logged, its
materializations and check evaluations included: for a season-long range run, tens of thousands of events, seconds
for each call. The start and end events are a few per step; this is what the progress of a step, of a run and of a
backfill is read from."""

from __future__ import annotations

from typing import NamedTuple

import dagster as dg

_STEP_EVENTS = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE,
                dg.DagsterEventType.STEP_SKIPPED}


class StepTimes(NamedTuple):
    step_key: str
    start_time: float | None  # its latest start (timestamp); None when its end came without one (a skipped step)
    end_time: float | None  # None while it runs


def step_times(instance: dg.DagsterInstance, run_id: str) -> list[StepTimes]:
    """Every step of `run_id` that has started or ended, in the order it first did."""
    steps: dict[str, StepTimes] = {}
    for record in instance.get_records_for_run(run_id, of_type=_STEP_EVENTS).records:
        entry = record.event_log_entry  # as Dagster's step stats: a start sets the start, an end the end
        known = steps.get(entry.step_key) or StepTimes(entry.step_key, None, None)
        if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
            steps[entry.step_key] = known._replace(start_time=entry.timestamp)
        else:
            steps[entry.step_key] = known._replace(end_time=entry.timestamp)
    return list(steps.values())

