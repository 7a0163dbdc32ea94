"""A `--select` string checked against the assets before Dagster sees it.

Dagster resolves a selection that matches nothing to every asset (`group:rawz` ran all 16 steps), and an
`or` hides an empty operand (`group:raw or group:rawz` runs the raw group and says nothing). So every asset name
and group a selection names must exist, and the whole selection must match at least one asset.
`unknown_names` is the pure part (names in a string against known names); `resolve_selection` adds Dagster's
own resolution over the definitions' asset graph.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable

# `attribute:value`, a function call such as `roots(`, or a bare asset key; `+`, `*`, digits, parentheses and
# commas around them are traversal and grouping, not names.
_TOKEN = re.compile(
    r'(?P<attr>[A-Za-z_]+):(?P<value>"[^"]*"|[^\s(),"+]+)'
    r"|(?P<func>[A-Za-z_]+)\s*\("
    r'|(?P<word>"[^"]*"|[A-Za-z_][\w/.\-]*)'
)
_OPERATORS = {"and", "or", "not"}


class SelectionError(ValueError):
    """A selection that names something that does not exist, or matches no asset; one line."""


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def unknown_names(selection: str, keys: Iterable[str], groups: Iterable[str]) -> str | None:
    """What `selection` names that does not exist — each `group:`, `key:` (wildcards allowed) and bare asset key —
    with the closest existing names and the lists they come from, as one line; None when every name exists."""
    keys, groups = set(keys), set(groups)
    missing: dict[str, str] = {}  # phrase -> which list to show
    for token in _TOKEN.finditer(selection):
        if token["attr"] == "group":
            name = _unquote(token["value"])
            if name not in groups:
                missing[f"no group {name!r}{_did_you_mean(name, groups)}"] = "groups"
        elif token["attr"] == "key":
            name = _unquote(token["value"])
            if not fnmatch.filter(keys, name):
                missing[f"no asset {name!r}{_did_you_mean(name, keys)}"] = "assets"
        elif token["word"] is not None:
            name = _unquote(token["word"])
            if name.lower() not in _OPERATORS and name not in keys:
                missing[f"no asset {name!r}{_did_you_mean(name, keys)}"] = "assets"
    if not missing:
        return None
    lists = {"groups": f"groups: {', '.join(sorted(groups))}", "assets": f"assets: {', '.join(sorted(keys))}"}
    return "; ".join([*missing, *(lists[kind] for kind in ("groups", "assets") if kind in missing.values())])


def resolve_selection(selection: str, defs) -> tuple[set[str], set[str]]:
    """The asset keys `selection` selects in `defs`, split into (partitioned, unpartitioned), exactly as
    `dagster asset materialize --select` reads it (comma-separated selections, or-ed). Raises SelectionError."""
    import dagster as dg

    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    groups = {spec.group_name for spec in specs.values() if spec.group_name}
    unknown = unknown_names(selection, specs, groups)
    if unknown:
        raise SelectionError(unknown)
    try:
        selected = dg.AssetSelection.from_coercible(selection.split(",")).resolve(defs.resolve_asset_graph())
    except dg.DagsterError as err:
        raise SelectionError(f"Dagster cannot read it: {' '.join(str(err).split())}{_quote_hint(selection)}") from None
    if not selected:
        raise SelectionError(
            f"it matches no asset; groups: {', '.join(sorted(groups))}; assets: {', '.join(sorted(specs))}"
        )
    names = {key.to_user_string() for key in selected}
    partitioned = {name for name in names if specs[name].partitions_def is not None}
    return partitioned, names - partitioned


def _quote_hint(selection: str) -> str:
    # `schedule` is an asset here and also a word of Dagster's selection grammar: `key:schedule` does not parse
    if re.search(r'(?<!")\bschedule\b(?!")', selection):
        return ' (schedule is also a word of the selection syntax: write key:"schedule")'
    return ""
