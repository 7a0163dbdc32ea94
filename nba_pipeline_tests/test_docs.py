"""The README fits and stays true: its two commands first, every top-level module in its map, every link resolving."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")  # [text](target); images excluded


def _first_code_block(text: str) -> list[str]:
    match = re.search(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)
    assert match, "README.md has no code block"
    return match.group(1).splitlines()


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower()
    text = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)  # a `# comment` in a code block is no heading
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def _top_level_names() -> list[str]:
    package = ROOT / "nba_pipeline"
    names = [p.name for p in package.glob("*.py") if p.name != "__init__.py"]
    names += [f"{p.name}/" for p in package.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    return sorted(names)


def test_readme_fits_in_220_lines():
    lines = README.read_text().splitlines()
    assert len(lines) < 220, f"README.md has {len(lines)} lines; move detail to docs/"


def test_readme_starts_with_make_run_then_make_test_and_both_targets_exist():
    commands = [line.split("#")[0].strip() for line in _first_code_block(README.read_text())]
    commands = [c for c in commands if c]
    assert commands[:2] == ["make run", "make test"], commands
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test"):
        assert re.search(rf"^{target}:", makefile, re.M), f"the Makefile has no `{target}` target"


def test_readme_map_names_every_top_level_module_and_package():
    readme = README.read_text()
    section = readme[readme.index("## The code"):]
    section = section[: section.index("\n## ", 1)]
    names = _top_level_names()
    assert len(names) > 20  # the package is there and listed
    missing = [n for n in names if f"`{n}`" not in section]
    assert not missing, f"README's map (## The code) does not name: {missing}"


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path):
    links = LINK.findall(doc.read_text())
    broken = []
    for target in links:
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(f"{target} (no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file})")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {file.relative_to(ROOT)})")
    assert not broken, f"{doc.relative_to(ROOT)}: broken links: {broken}"


def test_docs_are_the_five_the_readme_links():
    readme = README.read_text()
    names = {p.name for p in DOCS}
    assert {"operations.md", "deployment.md", "performance.md", "real-data.md", "architecture.md"} <= names
    unlinked = [n for n in sorted(names) if f"(docs/{n}" not in readme]
    assert not unlinked, f"README.md does not link: {unlinked}"
