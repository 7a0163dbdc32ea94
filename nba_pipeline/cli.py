"""`nba-pipeline`: the small CLI beside the Dagster UI.

    nba-pipeline materialize --select 'group:raw or group:analytics' --partition-range 2024-01-01...2024-01-31
    nba-pipeline recover [--warehouse FILE] [--never-started-after SECONDS]
    nba-pipeline status --start 2024-01-01 --end 2024-01-31 [--json] [--explain] [--html FILE] [--fail-on warning]
    nba-pipeline validate --phase analytics --partition-range 2021-10-19...2025-04-13 [--json]
    nba-pipeline replay-season
    nba-pipeline backfill-history [DIR ...] [--warehouse FILE]
    nba-pipeline promote [--select TABLE,...] [--note TEXT] [--dry-run]

Every command that takes dates takes them the same way: `--partition-range START...END` (or one date), or
`--start` and `--end`. `materialize` validates the range with the project's own date rules (a reversed range, a bad
end or a date past the last partition is named), the thresholds file and the selection (an unknown asset or group,
one that matches nothing or only unpartitioned assets) before Dagster creates a run, then hands over to `dagster
asset materialize`. `recover` marks runs of this machine whose process died (or that were created and never
started) failed, frees the pool slots they hold, lists the runs of other hosts it leaves alone and drops the staging
tables of runs not in flight (`nba_pipeline.ops.recovery`).
`status` reports, from the instance and the warehouse, what is published, missing, failed, blocked or
quarantined, what is running and one verdict (`nba_pipeline.ops.report`). `validate` judges a phase over a range
against the `range_validation` thresholds (`nba_pipeline.ops.validation`).
`backfill-history` takes no dates: it reads its folders of game logs first (a folder, file or column it cannot use
is one line, exit 2, no run) and takes the range off them (`nba_pipeline.history`).

Exit codes, one rule for every command (`nba_pipeline.ops.verdict`): 0 done and nothing needs a person (a WARNING
too, unless `status --fail-on warning`), 1 done and something needs a person (CRITICAL, a failed validation or
run), 2 bad arguments or input (nothing done), 3 the warehouse could not be reached (nothing judged).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import subprocess
import sys
import warnings

warnings.filterwarnings("ignore", message=".*(beta|preview).*", category=Warning)  # Dagster's API stability notes

from nba_pipeline.dates import InvalidGameDate, parse_game_date_range  # noqa: E402

# `nba_pipeline.ops.validation.PHASES` and `nba_pipeline.ops.verdict`'s codes, repeated so that building the parser
# imports neither (nor pandas, DuckDB, the warehouse): every subcommand imports what it needs when it runs. A test
# checks they agree.
VALIDATE_PHASES = ("raw", "analytics", "precompute", "ml", "predictions")
OK, ACTION_NEEDED, BAD_INPUT, NOT_REACHED = 0, 1, 2, 3


class RangeError(ValueError):
    pass


def add_range_options(parser: argparse.ArgumentParser, required: bool) -> None:
    """The same date options on every command: --partition-range START...END (or one date), or --start/--end."""
    parser.add_argument("--partition-range", metavar="RANGE",
                        help="START...END (ISO game dates, inclusive; START..END too), or one date")
    parser.add_argument("--start", help="first game date (ISO)" + ("" if required else "; default: the first the warehouse has a record of"))
    parser.add_argument("--end", help="last game date (ISO), inclusive" + ("" if required else "; default: the last the warehouse has a record of"))
    parser.set_defaults(range_required=required)


def resolve_range(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(start, end) from whichever range options were given, checked by the project's date rules; RangeError
    naming the problem. A single --start or --end is a one-sided range where the command allows one."""
    given = args.partition_range
    if given is not None and (args.start or args.end):
        raise RangeError("give either --partition-range or --start/--end, not both")
    if given is not None:
        text = given.strip()
        if "..." in text:
            start, _, end = text.partition("...")
        elif ".." in text:
            start, _, end = text.partition("..")
        else:
            start = end = text
        start, end = start.strip(), end.strip()
        if not start or not end:
            raise RangeError(f"--partition-range must be START...END or one date (ISO), got {given!r}")
    else:
        start, end = args.start, args.end
    if args.range_required and (start is None or end is None):
        raise RangeError("a date range is required: --partition-range START...END (or one date), or --start and --end")
    try:
        if start or end:
            parse_game_date_range(start or end, end or start)
    except InvalidGameDate as err:
        shown = given if given is not None else f"{start or ''}…{end or ''}"
        raise RangeError(f"bad range {shown}: {err}") from None
    return start, end


def _materialize(args: argparse.Namespace) -> int:
    try:
        start, end = resolve_range(args)
    except RangeError as err:
        print(f"error: {err}; no run was created", file=sys.stderr)
        return BAD_INPUT
    problem = _selection_problem(args.select)
    if problem:
        print(f"error: {problem}; no run was created", file=sys.stderr)
        return 2
    # Dagster's console logger at DEBUG prints every event (tens of thousands of lines for a season); at INFO it
    # prints each step's progress lines (`tables.py`: started, published / quarantined, seconds) and every failure
    loggers = json.dumps({"loggers": {"console": {"config": {"log_level": args.log_level}}}})
    command = [sys.executable, "-m", "nba_pipeline.plumbing.dagster_cli", "asset", "materialize", "-m", "nba_pipeline.definitions",
               "--select", args.select, "--partition-range", f"{start}...{end}", "--config-json", loggers]
    with subprocess.Popen(command) as run:
        try:
            if args.summary:  # imported while the run goes on (~2 s of imports off the wall time), used after it
                import dagster as dg

                from nba_pipeline.ops.published import reader_for
                from nba_pipeline.ops.report import build_report
                from nba_pipeline.ops.text import format_report
            code = run.wait()
        except BaseException:  # as subprocess.run does: the run process does not outlive an interrupted CLI
            run.kill()
            raise
    if not args.summary:
        return code
    # the range as it stands now, in one table: published / quarantined / blocked per asset, failures and why
    print(f"\n== {start}...{end} now (the same report: nba-pipeline status --start {start} --end {end}) ==")
    report = build_report(dg.DagsterInstance.get(), reader_for(None), start, end)
    print(format_report(report, explain=False))
    if code == 0 and report.verdict == "CRITICAL":
        # the run carried on around a failed date (quarantined, the dates reading it held back): it succeeded, but
        # the range it leaves is not all published, and a script that checks the exit code must see that
        print(f"the run finished; the range is CRITICAL: {report.reasons[0]}", file=sys.stderr)
        return 1
    return code


def _selection_problem(select: str) -> str | None:
    """Why Dagster must not be handed `select` (None: it may): the thresholds the definitions load do not validate,
    the selection names an asset or group that does not exist or matches nothing (Dagster would run every asset),
    or it selects only unpartitioned assets, to which a partition range cannot apply."""
    from nba_pipeline.config import ThresholdsError

    try:  # build_definitions loads the thresholds before anything else, as the run's process will
        from nba_pipeline.definitions import defs
    except ThresholdsError as err:
        return " ".join(str(err).split())
    from nba_pipeline.selection import SelectionError, resolve_selection

    try:
        partitioned, unpartitioned = resolve_selection(select, defs)
    except SelectionError as err:
        return f"--select {select!r}: {err}"
    if not partitioned:
        names = ", ".join(sorted(unpartitioned))
        return (f"--select {select!r} selects only unpartitioned assets ({names}): a --partition-range cannot apply; "
                f"materialize without one (the UI, or dagster asset materialize -m nba_pipeline.definitions "
                f"--select {select!r})")
    return None


def _recover(args: argparse.Namespace) -> int:
    import dagster as dg

    from nba_pipeline.ops.recovery import NEVER_STARTED_SECONDS, recover_dead_runs
    from nba_pipeline.resources import warehouse_for

    never_started = NEVER_STARTED_SECONDS if args.never_started_after is None else args.never_started_after
    if never_started < 0:
        print(f"error: --never-started-after must be 0 or more seconds, got {never_started:g}; nothing was recovered",
              file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        try:
            warehouse = warehouse_for(os.environ.get("NBA_PIPELINE_ENV", "local"), warehouse_path=args.warehouse)
            # resolves the environment's settings (production's project)
            warehouse = stack.enter_context(dg.build_resources({"warehouse": warehouse})).warehouse
        except (ValueError, dg.DagsterError) as err:
            print(f"error: cannot set up the warehouse: {err}; nothing was recovered", file=sys.stderr)
            return 2
        recovery = recover_dead_runs(dg.DagsterInstance.get(), warehouse, never_started_seconds=never_started)
    print("\n".join(recovery.lines()))
    return 0


def _status(args: argparse.Namespace) -> int:
    import dagster as dg

    from nba_pipeline.ops.published import reader_for
    from nba_pipeline.ops.report import build_report
    from nba_pipeline.ops.text import report_json, format_report
    from nba_pipeline.ops.verdict import RULES, exit_code

    if args.explain and not args.json:
        print(RULES)
        return OK
    try:
        start, end = resolve_range(args)
    except RangeError as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    if args.html:
        from nba_pipeline.ops.html import html_target

        try:
            html_target(args.html)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return BAD_INPUT
    try:
        select = [s.strip() for s in args.select.split(",") if s.strip()] if args.select else None
        report = build_report(dg.DagsterInstance.get(), reader_for(args.warehouse), start, end, select=select)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    print(report_json(report) if args.json else format_report(report))
    if args.html:
        from nba_pipeline.ops.html import write_html

        print(f"HTML report: {write_html(report, args.html).resolve()}", file=sys.stderr)
    return exit_code(report.verdict, args.fail_on)


def _validate(args: argparse.Namespace) -> int:
    import json

    from nba_pipeline.config import ThresholdsError, load_thresholds
    from nba_pipeline.ops.published import reader_for
    from nba_pipeline.ops.validation import format_validation, validate_range
    from nba_pipeline.warehouse.base import WarehouseUnreachable

    try:
        start, end = resolve_range(args)
        thresholds = load_thresholds(os.environ.get("NBA_PIPELINE_THRESHOLDS"))
        warehouse = reader_for(args.warehouse)
    except (RangeError, ThresholdsError, ValueError) as err:
        print(f"error: {err}; nothing was validated", file=sys.stderr)
        return BAD_INPUT
    try:
        result = validate_range(warehouse, args.phase, start, end, thresholds)
    except WarehouseUnreachable as err:
        print(f"error: {err}; nothing was validated", file=sys.stderr)
        return NOT_REACHED
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_validation(result))
    return result.exit_code


def _promote(args: argparse.Namespace) -> int:
    import dagster as dg

    from nba_pipeline.definitions import defs
    from nba_pipeline.promotion import format_promotion, promote
    from nba_pipeline.resources import resources_for
    from nba_pipeline.warehouse.base import WarehouseError, WarehouseUnreachable

    select = [s.strip() for s in args.select.split(",") if s.strip()] if args.select else None
    warehouse = resources_for(os.environ.get("NBA_PIPELINE_ENV", "local"))["warehouse"].process_config_and_initialize()
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    try:
        result = promote(warehouse, defs, instance=instance, select=select, note=args.note, dry_run=args.dry_run)
    except ValueError as err:
        print(f"error: {err}; nothing was promoted", file=sys.stderr)
        return 2
    except WarehouseUnreachable as err:
        print(f"error: {err}; nothing was promoted", file=sys.stderr)
        return NOT_REACHED
    except WarehouseError as err:
        print(f"error: {err}; nothing was promoted", file=sys.stderr)
        return ACTION_NEEDED
    print(format_promotion(result, args.dry_run))
    return 0


def _replay_season(args: argparse.Namespace) -> int:
    from nba_pipeline.real_season import main as replay

    return replay()


def _backfill_history(args: argparse.Namespace) -> int:
    from nba_pipeline.history import PACKAGED_SEASONS, main as backfill

    return backfill(args.folders or list(PACKAGED_SEASONS), args.warehouse, args.log_level)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nba-pipeline", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    materialize = commands.add_parser("materialize", help="validate a partition range, then materialize it")
    materialize.add_argument("--select", required=True, help="Dagster asset selection, e.g. 'group:raw or group:analytics'")
    add_range_options(materialize, required=True)
    materialize.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                             help="Dagster console log level (default INFO: step progress and failures, not every event)")
    materialize.add_argument("--no-summary", dest="summary", action="store_false",
                             help="do not print the range's status report (dates per asset, failed checks) at the end")
    materialize.set_defaults(run=_materialize)
    recover = commands.add_parser(
        "recover", help="mark runs of this machine whose process died (or that never started) failed, free their pool "
        "slots and drop the staging tables of runs not in flight; runs of other hosts are listed, left alone")
    recover.add_argument("--warehouse", help="DuckDB warehouse file; default: NBA_PIPELINE_WAREHOUSE or data/warehouse.duckdb "
                         "(production: the BigQuery project of the environment)")
    recover.add_argument("--never-started-after", type=float, default=None, metavar="SECONDS",
                         help="a run NOT_STARTED this long after its creation, with no event since, counts as dead "
                         "(default 600)")
    recover.set_defaults(run=_recover)
    status = commands.add_parser(
        "status", help="published / missing / failed / blocked / quarantined per asset, runs in progress, one verdict "
        "(exit 0 HEALTHY or WARNING, 1 CRITICAL, 2 bad arguments, 3 warehouse unreachable)")
    add_range_options(status, required=False)
    status.add_argument("--fail-on", choices=("critical", "warning"), default="critical",
                        help="the verdict from which the exit code is 1 (default critical; warning: for a monitor)")
    status.add_argument("--select", help="comma-separated asset or group names to report on, e.g. raw,analytics "
                        "(default: every daily asset)")
    status.add_argument("--json", action="store_true", help="the whole report as JSON, for machines")
    status.add_argument("--explain", action="store_true", help="print the verdict rules and exit")
    status.add_argument("--html", metavar="FILE", help="also write the report as one self-contained HTML page with a "
                        "coverage heat-map (dates × assets, coloured by state)")
    status.add_argument("--warehouse", help="DuckDB warehouse file; default: NBA_PIPELINE_WAREHOUSE or data/warehouse.duckdb "
                        "(production: BigQuery, from the environment)")
    status.set_defaults(run=_status)
    validate = commands.add_parser(
        "validate", help="judge a phase over a date range against the range_validation thresholds "
        "(exit 0 pass, 1 fail, 2 bad arguments, 3 warehouse unreachable)")
    validate.add_argument("--phase", required=True, choices=VALIDATE_PHASES)
    add_range_options(validate, required=True)
    validate.add_argument("--json", action="store_true", help="the table as JSON")
    validate.add_argument("--warehouse", help="DuckDB warehouse file whose read copy is read; default: "
                          "NBA_PIPELINE_WAREHOUSE or data/warehouse.duckdb (production: BigQuery, from the environment)")
    validate.set_defaults(run=_validate)
    replay = commands.add_parser(
        "replay-season", help="the real 2023-24 season (replay source) through every phase, then its check results "
        "and the model's out-of-sample error (nba_pipeline.real_season)")
    replay.set_defaults(run=_replay_season)
    history = commands.add_parser(
        "backfill-history", help="folders of game-log files (default: the package's 2022-23 and 2023-24 seasons) through "
        "every phase in one range run, then per season the dates published / quarantined and the model's MAE "
        "(nba_pipeline.history)")
    history.add_argument("folders", nargs="*", metavar="DIR", help="a folder of NBA.com game-log exports "
                         "(player_game_logs*.csv[.gz], team_game_logs*.csv[.gz]) or the package's 2023-24 folder")
    history.add_argument("--warehouse", help="DuckDB warehouse file; default: NBA_PIPELINE_WAREHOUSE or data/warehouse.duckdb")
    history.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                         help="Dagster console log level (default INFO: step progress and failures)")
    history.set_defaults(run=_backfill_history)
    promote = commands.add_parser(
        "promote", help="make this checkout's code version of each table the one the warehouse publishes (run after "
        "deploying a fix; other versions are refused from then on, and their dates rebuilt)")
    promote.add_argument("--select", help="comma-separated table names (default: every table)")
    promote.add_argument("--note", default="", help="why, recorded with the promotion")
    promote.add_argument("--dry-run", action="store_true", help="show what would change, record nothing")
    promote.set_defaults(run=_promote)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code = args.run(args)
    if argv is None:
        # The process is the command and ends now. Its last act would be the interpreter's final garbage collection
        # over every object Dagster's modules made (~0.5 s of a 3 s `status`); frozen, they are left to the exit.
        # Output is flushed and atexit handlers run as usual.
        gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main())
