"""deploy/render.py: the manifest deploy/up plays, filled from the environment — every value quoted so none can
break the YAML, defaults where the manifest has them, and one line naming every required variable that is unset."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"DAGSTER_PG_URL": 'postgresql+psycopg2://u:p"a: s#s@db:5432/dagster', "GCP_PROJECT": "p",
            "GCS_BUCKET": "b"}


def _render(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "deploy" / "render.py"), str(ROOT / "deploy" / "pod.yaml")],
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)


def test_the_manifest_takes_its_settings_from_the_environment():
    done = _render({**REQUIRED, "DAGSTER_WEBSERVER_PORT": "3456", "NBA_PIPELINE_POD": "p1"})
    assert done.returncode == 0, done.stderr
    pod = yaml.safe_load(done.stdout)
    assert pod["metadata"]["name"] == "p1" and pod["spec"]["hostNetwork"] is True
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert set(containers) == {"code-server", "webserver", "daemon"}
    for container in containers.values():
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["DAGSTER_PG_URL"] == REQUIRED["DAGSTER_PG_URL"]  # quotes, colons and # survive
        assert env["DAGSTER_CODE_SERVER_PORT"] == "4000"  # the default
    assert containers["webserver"]["command"][containers["webserver"]["command"].index("--port") + 1] == "3456"
    code = {e["name"]: e["value"] for e in containers["code-server"]["env"]}
    assert code["NBA_PIPELINE_ENV"] == "production" and code["BIGQUERY_EMULATOR_HOST"] == ""


def test_unset_settings_fail_in_one_line_naming_them():
    done = _render({"GCP_PROJECT": "p"})
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.strip() == "deploy: set DAGSTER_PG_URL, GCS_BUCKET in the environment (see docs/deployment.md)"
