"""Prints deploy/pod.yaml with each ${VAR} / ${VAR:-default} replaced from the environment (values JSON-quoted, so
no value can break the YAML); a ${VAR} that is unset fails with one line naming every missing variable."""

import json
import os
import re
import sys

PLACEHOLDER = re.compile(r'"?\$\{([A-Z_][A-Z0-9_]*)(:-([^}]*))?\}"?')


def render(text: str) -> str:
    missing = []

    def value(match: re.Match) -> str:
        name, has_default, default = match.group(1), match.group(2), match.group(3)
        found = os.environ.get(name) or (default if has_default else None)
        if found is None:
            missing.append(name)
            return ""
        return json.dumps(found)

    lines = [line if line.lstrip().startswith("#") else PLACEHOLDER.sub(value, line) for line in text.splitlines()]
    if missing:
        sys.exit(f"deploy: set {', '.join(sorted(set(missing)))} in the environment (see docs/deployment.md)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(open(sys.argv[1]).read()))
