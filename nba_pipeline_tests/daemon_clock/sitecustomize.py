"""On PYTHONPATH of a test's `dagster dev` only (nba_pipeline_tests/dagster_dev.py): in its daemon process, the backfill
and sensor daemons loop every NBA_PIPELINE_TEST_DAEMON_LOOP_SECONDS instead of Dagster's fixed 30 s / 5 s, so a story
waits for the state it needs, not for the next tick (`nba_pipeline.plumbing.dagster_private.quicken_daemon_loops`)."""

import os
import sys

_seconds = os.environ.get("NBA_PIPELINE_TEST_DAEMON_LOOP_SECONDS")
if _seconds and "dagster._daemon" in getattr(sys, "orig_argv", []):
    from nba_pipeline.plumbing.dagster_private import quicken_daemon_loops

    quicken_daemon_loops(float(_seconds))
