"""`nba-pipeline`: the small CLI beside the Dagster UI.

    nba-pipeline materialize --select 'group:raw or group:analytics' --partition-range 2024-01-01...2024-01-31
    nba-pipeline recover

`materialize` validates the range with the project's own date rules before Dagster creates a run (a reversed range
or a bad end is named, and nothing runs), then hands over to `dagster asset materialize`. `recover` marks runs
whose process died failed and frees the pool slots they hold (see `nba_pipeline.recovery`).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*(beta|preview).*", category=Warning)  # Dagster's API stability notes

from nba_pipeline.dates import InvalidGameDate, parse_game_date_range  # noqa: E402


def _materialize(args: argparse.Namespace) -> int:
    start, sep, end = args.partition_range.partition("...")
    if not sep:
        print(f"error: --partition-range must be START...END (ISO dates), got {args.partition_range!r}", file=sys.stderr)
        return 2
    try:
        parse_game_date_range(start.strip(), end.strip())
    except InvalidGameDate as err:
        print(f"error: bad --partition-range {args.partition_range}: {err}; no run was created", file=sys.stderr)
        return 2
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [dagster, "asset", "materialize", "-m", "nba_pipeline.definitions", "--select", args.select,
               "--partition-range", f"{start.strip()}...{end.strip()}"]
    os.execv(dagster, command)
    return 0  # not reached


def _recover(args: argparse.Namespace) -> int:
    import dagster as dg

    from nba_pipeline.recovery import recover_dead_runs

    instance = dg.DagsterInstance.get()
    recovered = recover_dead_runs(instance)
    for run in recovered:
        print(f"run {run.run_id} ({run.job_name}): marked failed, pool slots freed — its {run.why}")
    if not recovered:
        print("no run whose process died; nothing to recover")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nba-pipeline", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    materialize = commands.add_parser("materialize", help="validate a partition range, then materialize it")
    materialize.add_argument("--select", required=True, help="Dagster asset selection, e.g. 'group:raw or group:analytics'")
    materialize.add_argument("--partition-range", required=True, help="START...END, ISO game dates, inclusive")
    materialize.set_defaults(run=_materialize)
    recover = commands.add_parser("recover", help="mark runs whose process died failed and free their pool slots")
    recover.set_defaults(run=_recover)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
