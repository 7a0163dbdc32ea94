"""Which machine and process execute a run, and whether that process is still alive, judged from this machine.

Every run of the project's definitions records, as run tags (`process_tags`), the host name, the boot id of that
host, the pid of the process executing the run and that process's create time, and the run id they describe.
`recording_host` wraps the definitions' executor so that its `execute` — the first thing Dagster does in the run's
own process after logging RUN_START, before any step — writes them. That is the one place that runs in the run's
process, first, on every launch path: `dagster asset materialize` / `nba-pipeline materialize` (in process), a run
the daemon or `dagster dev` launched (a worker of the code server, `dagster api execute_run`), and a run resumed by
run monitoring (its new worker records itself again). A resource or an IO manager is set up per step, in each
step's own process under the multiprocess executor, and never in a run killed before its first step; Dagster has no
run-level hook (hooks run per step, after it). A re-execution that copies its parent's tags carries the parent's run
id in `RUN_TAG` until its own executor overwrites them: such tags are not believed.

`execute_in_process` / `dg.materialize` put Dagster's own executor in place of the definitions' one (tests,
`replay-season`): those runs, and runs from before the tags, have none. For them `run_process` falls back on the pid
of their RUN_START event, judged as a process of this machine (there is nothing to say otherwise).

`process_gone` judges with psutil (Linux, macOS, Windows alike): a run of another host is never judged here; on
this host with another boot id the machine has rebooted since, so the process is dead; a run of another pid namespace
of this host (a container sharing the host's name, as `deploy/pod.yaml`'s do with hostNetwork) is not judged here
either, its pid means nothing outside; otherwise it is alive while its pid exists, is not a zombie and has the create
time recorded (another create time: the pid was reused).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil

from nba_pipeline.plumbing.dagster_private import run_start_pid

HOST_TAG = "nba_pipeline/host"
BOOT_TAG = "nba_pipeline/boot_id"
PID_TAG = "nba_pipeline/pid"
PID_CREATED_TAG = "nba_pipeline/pid_created_at"  # epoch seconds, psutil's create_time()
RUN_TAG = "nba_pipeline/tagged_run"
PID_NAMESPACE_TAG = "nba_pipeline/pid_namespace"  # Linux only; not one of HOST_TAGS, which every platform writes
HOST_TAGS = (HOST_TAG, BOOT_TAG, PID_TAG, PID_CREATED_TAG, RUN_TAG)
# create times are read from the same clock-tick count every time on one boot; a reused pid started later
CREATE_TIME_TOLERANCE = 1.0
_LINUX_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_LINUX_PID_NAMESPACE = Path("/proc/self/ns/pid")


def this_host() -> str:
    return socket.gethostname()


def boot_id() -> str:
    """This boot of this machine: the kernel's boot id on Linux, else the boot time (a reboot changes either)."""
    try:
        return _LINUX_BOOT_ID.read_text().strip()
    except OSError:
        return f"boot-time-{int(psutil.boot_time())}"


def pid_namespace() -> str | None:
    """The pid namespace this process sees pids in (Linux: e.g. "pid:[4026531836]"), None where there is none."""
    try:
        return os.readlink(_LINUX_PID_NAMESPACE)
    except OSError:
        return None


def process_tags(run_id: str, pid: int | None = None) -> dict[str, str]:
    """The tags that say the process `pid` (default: this one) on this machine executes the run `run_id`."""
    process = psutil.Process(pid)
    tags = {HOST_TAG: this_host(), BOOT_TAG: boot_id(), PID_TAG: str(process.pid),
            PID_CREATED_TAG: repr(process.create_time()), RUN_TAG: run_id}
    namespace = pid_namespace()
    return tags if namespace is None else {**tags, PID_NAMESPACE_TAG: namespace}


class _RecordingExecutor(dg.Executor):
    """The wrapped executor, once it has tagged the run with the process executing it."""

    def __init__(self, inner: dg.Executor):
        self._inner = inner

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:
        plan_context.instance.add_run_tags(plan_context.run_id, process_tags(plan_context.run_id))
        yield from self._inner.execute(plan_context, execution_plan)

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config


def recording_host(executor_def: dg.ExecutorDefinition) -> dg.ExecutorDefinition:
    """`executor_def` (same name, config and requirements) that tags each run with its process first."""
    create = executor_def.executor_creation_fn
    return dg.ExecutorDefinition(
        name=executor_def.name, config_schema=executor_def.config_schema, requirements=executor_def.get_requirements,
        executor_creation_fn=lambda init_context: _RecordingExecutor(create(init_context)),
        description=executor_def.description,
    )


@dataclass(frozen=True)
class RunProcess:
    """The process that executes a run: from its tags (host, boot id, create time), or for a run without them from
    its RUN_START event (host, boot id and create time None; `not_after`: the event's time)."""

    pid: int
    host: str | None = None
    boot_id: str | None = None
    created_at: float | None = None
    not_after: float | None = None
    pid_namespace: str | None = None

    @property
    def elsewhere(self) -> str | None:
        """Where the process is, if not here (another host, or another pid namespace of this host while it has not
        rebooted): only there can it be told whether it is alive. None: judged here."""
        if self.host is not None and self.host != this_host():
            return f"host {self.host}"
        if self.boot_id is not None and self.boot_id != boot_id():
            return None  # this host rebooted: dead, whatever namespace it ran in
        if self.pid_namespace is not None and pid_namespace() is not None and self.pid_namespace != pid_namespace():
            return f"host {self.host} (another pid namespace, {self.pid_namespace}: a container?)"
        return None


def run_process(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunProcess | None:
    """The process executing `run`, by its tags if it has them (and they are its own), else by its RUN_START event;
    None before either exists."""
    tags = run.tags
    if all(t in tags for t in HOST_TAGS) and tags[RUN_TAG] == run.run_id:
        try:
            return RunProcess(int(tags[PID_TAG]), tags[HOST_TAG], tags[BOOT_TAG], float(tags[PID_CREATED_TAG]),
                              pid_namespace=tags.get(PID_NAMESPACE_TAG))
        except ValueError:
            pass  # edited by hand into nonsense: the RUN_START event still says which process began the run
    started = run_start_pid(instance, run.run_id)
    return None if started is None else RunProcess(started[0], not_after=started[1])


def _at(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).isoformat(sep=" ", timespec="seconds")


def process_gone(process: RunProcess) -> str | None:
    """Why `process`, a process of this machine (not `elsewhere`), is dead; None while it is alive or it cannot be
    told (psutil is denied access to it)."""
    if process.boot_id is not None and process.boot_id != boot_id():
        return f"process {process.pid}'s machine has rebooted since the run started (boot id {process.boot_id[:8]}…)"
    try:
        found = psutil.Process(process.pid)
        created, status = found.create_time(), found.status()
    except psutil.NoSuchProcess:
        return f"process {process.pid} no longer exists"
    except psutil.AccessDenied:
        return None
    if status == psutil.STATUS_ZOMBIE:
        return f"process {process.pid} has exited (a zombie its parent has not reaped)"
    if process.created_at is not None and abs(created - process.created_at) > CREATE_TIME_TOLERANCE:
        return (f"pid {process.pid} now belongs to another process (started {_at(created)}; the run's process "
                f"started {_at(process.created_at)})")
    if process.created_at is None and process.not_after is not None and created > process.not_after + CREATE_TIME_TOLERANCE:
        return f"pid {process.pid} now belongs to a process started after the run"
    return None
