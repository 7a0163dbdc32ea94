"""The production run launcher: Dagster's DefaultRunLauncher (a run worker is a subprocess of the code server that
launched it) plus the worker health check run monitoring needs to notice a run whose code server died.

DefaultRunLauncher has no `check_run_worker_health`, so run monitoring never looks at a STARTED run: kill the code
server's container (OOM, a lost machine, a redeploy) and its run workers die with it, yet their runs stay STARTED and
hold the `warehouse` pool slot until `max_runtime_seconds` (6 h) — every later step waits. With this launcher
(`deploy/production/dagster.yaml`) the monitoring daemon asks the code server recorded on the run whether it is still
executing it, every `poll_interval_seconds`:
- the server answers no while the run is still STARTED: its worker is gone (the server was restarted, or the worker
  died unseen) -> FAILED; run monitoring marks the run FAILURE, and `free_slots_after_run_end_seconds` later frees its
  pool slots;
- the server does not answer (down, restarting, unreachable): RUNNING for now. Not answering is no proof that its
  workers died (a network can split them), and the next poll asks again; a server that stays away leaves the run
  STARTED until the alert sensor reports it stuck (`stuck_after_minutes`) and `max_runtime_seconds` ends it.
The run's status is read again after the server answered, so a run that finished meanwhile is never failed.
"""

from __future__ import annotations

import dagster as dg

from nba_pipeline.plumbing.dagster_private import code_server_runs, worker_health


class CodeServerRunLauncher(dg.DefaultRunLauncher):
    """DefaultRunLauncher whose runs run monitoring can fail when their code server no longer executes them."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun):
        running = code_server_runs(run)
        if running is None:
            return worker_health(True, "its code server is not answering; asking again on the next poll")
        if running:
            return worker_health(True, "its code server is executing it")
        now = self._instance.get_run_by_id(run.run_id)
        if now is None or now.status != dg.DagsterRunStatus.STARTED:
            return worker_health(True, f"it is {now.status.value if now else 'gone'} now")
        return worker_health(False, "its code server is not executing it: the run worker died (was the code server "
                                    "restarted?)")
