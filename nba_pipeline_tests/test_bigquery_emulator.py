"""The emulator helper the BigQuery tests start: a real server process that answers BigQuery's REST API offline
and is gone once its context ends."""

import pytest
import requests

from nba_pipeline_tests.bigquery_emulator import PROJECT, running_emulator


def test_the_emulator_answers_and_is_stopped_at_the_end(tmp_path):
    with running_emulator(tmp_path / "emulator.log") as endpoint:
        answer = requests.get(f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets", timeout=5)
        assert answer.status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets", timeout=5)
