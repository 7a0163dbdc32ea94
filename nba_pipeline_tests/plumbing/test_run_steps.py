"""A run's step times from its start and end events equal Dagster's own step stats, for steps that succeeded,
failed, were skipped and were retried."""

import dagster as dg
import pytest

from nba_pipeline.plumbing.run_steps import step_times


@dg.asset
def first() -> int:
    return 1


@dg.asset
def failing(first: int) -> int:
    raise ValueError("this step fails")


@dg.asset(output_required=False)
def nothing():
    yield from ()  # no output: the step after it is skipped


@dg.asset
def skipped(nothing) -> int:
    return 3


_attempts = []


@dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
def retried() -> int:
    _attempts.append(1)
    if len(_attempts) == 1:
        raise ValueError("the first attempt fails")
    return 4


@pytest.mark.parametrize("selection, ended", [([first, nothing, skipped], {"first", "nothing", "skipped"}),
                                              ([first, failing], {"first", "failing"}), ([retried], {"retried"})],
                         ids=["skipped", "failed", "retried"])
def test_step_times_are_dagsters_step_stats(selection, ended):
    with dg.DagsterInstance.ephemeral() as instance:
        run_id = dg.materialize(selection, instance=instance, raise_on_error=False).run_id
        stats = {s.step_key: (s.start_time, s.end_time) for s in instance.get_run_step_stats(run_id)}
        assert {s.step_key: (s.start_time, s.end_time) for s in step_times(instance, run_id)} == stats
        assert {key for key, (_, end) in stats.items() if end is not None} == ended
        if "retried" in stats:
            assert len(_attempts) == 2  # it failed once, then succeeded in the same run
        if "skipped" in stats:
            assert stats["skipped"][0] is None  # a skipped step ends without starting
