"""Dagster's internals are kept small and watched: `dagster._…` is imported, and the instance's storages are called,
only in the two modules that say why (`dagster_private.py`, `instance_storage.py`), each private name there with its
reason; everything else uses the public API. Pure: reads the source, runs nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import dagster as dg

PACKAGE = Path(__file__).resolve().parents[2] / "nba_pipeline"
ALLOWED = {PACKAGE / "plumbing" / "dagster_private.py", PACKAGE / "plumbing" / "instance_storage.py"}
STORAGES = {"event_log_storage", "run_storage", "schedule_storage", "_event_storage", "_run_storage"}


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dagster._"):
            found.append(f"{path.name}:{node.lineno} from {node.module} import …")
        elif isinstance(node, ast.Import) and any(a.name.startswith("dagster._") for a in node.names):
            found.append(f"{path.name}:{node.lineno} import {node.names[0].name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Attribute) and owner.attr in STORAGES:
                found.append(f"{path.name}:{node.lineno} .{owner.attr}.{node.func.attr}(…)")
    return found


def test_private_dagster_is_used_only_in_the_two_modules_that_say_why():
    modules = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    assert len(modules) > 50
    outside = [use for p in modules if p not in ALLOWED for use in _private_uses(p)]
    assert outside == [], "private Dagster API outside dagster_private.py / instance_storage.py:\n" + "\n".join(outside)
    for path in ALLOWED:  # and there, the module says why it needs them
        assert "why" in (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").lower(), path


def test_names_with_a_public_equivalent_are_imported_from_dagster():
    for path in ALLOWED:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        private_names = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                         and (n.module or "").startswith("dagster._") for a in n.names}
        public = sorted(name for name in private_names if hasattr(dg, name))
        assert public == [], f"{path.name} imports from dagster._ what `dagster` exports: {public}"
