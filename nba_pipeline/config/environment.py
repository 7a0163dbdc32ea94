"""Numbers read from environment variables: one parser, so every variable fails the same way, in one line naming it."""

from __future__ import annotations

import math
import os


def seconds_from_environment(variable: str, default: float | None = None, *, zero_allowed: bool = False) -> float | None:
    """`variable` as a number of seconds; `default` when it is unset or empty. Anything else (a word, a negative
    number, infinity, 0 unless `zero_allowed`) is a ValueError naming the variable and the value."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_allowed):
        bound = "0 or above" if zero_allowed else "above 0"
        raise ValueError(f"{variable}={os.environ[variable]!r}: expected a number of seconds {bound}")
    return value
