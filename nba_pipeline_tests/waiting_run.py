"""A real run that waits, for the recovery tests: `python -m nba_pipeline_tests.waiting_run` executes `waiting_job`
on DAGSTER_HOME's instance through the executor the project's definitions use (it tags the run with this process),
and its one op waits until the process's stdin closes: a STARTED run whose process is alive, until the test says."""

from __future__ import annotations

import sys

import dagster as dg

from nba_pipeline.ops.run_host import recording_host


@dg.op
def wait_for_stdin_to_close() -> None:
    sys.stdin.read()


@dg.job(executor_def=recording_host(dg.in_process_executor))
def waiting_job():
    wait_for_stdin_to_close()


if __name__ == "__main__":
    from nba_pipeline_tests.waiting_run import waiting_job as importable  # reconstructable: not from __main__

    sys.exit(0 if dg.execute_job(dg.reconstructable(importable), dg.DagsterInstance.get()).success else 1)
