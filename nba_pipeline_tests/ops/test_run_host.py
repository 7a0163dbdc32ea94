"""A run's process, judged from this machine with psutil: real processes (this test's, a child that exits), real
tags written by the wrapped executor of a real run."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time

import dagster as dg
import psutil

from nba_pipeline.ops import run_host
from nba_pipeline.plumbing.dagster_private import run_start_pid
from nba_pipeline.definitions import defs
from nba_pipeline.ops.run_host import (
    BOOT_TAG,
    HOST_TAGS,
    PID_CREATED_TAG,
    PID_NAMESPACE_TAG,
    RUN_TAG,
    RunProcess,
    boot_id,
    pid_namespace,
    process_gone,
    process_tags,
    recording_host,
    run_process,
)


def _process(tags: dict[str, str]) -> RunProcess:
    return RunProcess(int(tags["nba_pipeline/pid"]), tags["nba_pipeline/host"], tags[BOOT_TAG], float(tags[PID_CREATED_TAG]),
                      pid_namespace=tags.get(PID_NAMESPACE_TAG))


def test_this_process_is_alive_a_reused_pid_or_a_reboot_is_not_and_another_host_is_not_judged():
    me = _process(process_tags("some-run"))
    assert (me.pid, me.host, me.boot_id) == (os.getpid(), socket.gethostname(), boot_id())
    assert not me.elsewhere and process_gone(me) is None

    reused = dataclasses.replace(me, created_at=me.created_at - 3600)  # the pid now names a process started later
    assert process_gone(reused).startswith(f"pid {os.getpid()} now belongs to another process (started ")
    rebooted = dataclasses.replace(me, boot_id="00000000-0000-0000-0000-000000000000")  # same host name, other boot
    assert process_gone(rebooted) == (f"process {os.getpid()}'s machine has rebooted since the run started "
                                      "(boot id 00000000…)")
    assert dataclasses.replace(me, host=f"not-{me.host}").elsewhere == f"host not-{me.host}"
    assert dataclasses.replace(me, host=None).elsewhere is None  # no host recorded: judged here, by pid

    # a container sharing this host's name (deploy/pod.yaml: hostNetwork) sees other pids: not judged here, unless
    # the machine has rebooted since
    assert me.pid_namespace == pid_namespace() and me.pid_namespace.startswith("pid:[")
    container = dataclasses.replace(me, pid_namespace="pid:[4026532999]")
    assert container.elsewhere == f"host {me.host} (another pid namespace, pid:[4026532999]: a container?)"
    assert dataclasses.replace(container, boot_id="00000000-0000-0000-0000-000000000000").elsewhere is None


def test_a_process_that_exited_is_dead_whether_or_not_its_parent_reaped_it():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    process = _process(process_tags("some-run", child.pid))
    assert process.pid == child.pid and process_gone(process) is None
    child.stdin.close()  # it exits; not waited for, it stays a zombie
    deadline = time.monotonic() + 60
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(process) == f"process {child.pid} has exited (a zombie its parent has not reaped)"
    child.wait()
    assert process_gone(process) == f"process {child.pid} no longer exists"


def test_without_a_linux_boot_id_the_boot_time_identifies_the_boot(monkeypatch, tmp_path):
    assert boot_id() == (run_host._LINUX_BOOT_ID.read_text().strip())
    monkeypatch.setattr(run_host, "_LINUX_BOOT_ID", tmp_path / "absent")  # macOS, Windows
    assert boot_id() == f"boot-time-{int(psutil.boot_time())}"


@dg.op
def _noop():
    return 1


@dg.job(executor_def=recording_host(dg.in_process_executor))
def recorded_job():
    _noop()


def test_a_run_records_the_process_that_executes_it_and_tags_it_did_not_write_are_not_believed(tmp_path):
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "in_process"  # wrapped, same name
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(dg.reconstructable(recorded_job), instance)
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert set(HOST_TAGS) <= set(run.tags) and run.tags[RUN_TAG] == run.run_id
        process = run_process(instance, run)
        assert process == RunProcess(os.getpid(), socket.gethostname(), boot_id(), psutil.Process().create_time(),
                                     pid_namespace=pid_namespace())
        assert run_start_pid(instance, run.run_id)[0] == process.pid

        # tags of another run (a re-execution copies its parent's, until its own executor overwrites them): the
        # RUN_START event says which process began it, with no host
        instance.add_run_tags(run.run_id, {RUN_TAG: "its-parent-run"})
        started = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)[0]
        assert run_process(instance, instance.get_run_by_id(run.run_id)) == RunProcess(os.getpid(), not_after=started.timestamp)
