"""`to_datetime`: the one way this package converts dates to datetime64 — `pd.to_datetime` without its parse cache.

pandas' cache first probes whether the input repeats (`should_cache`): it turns up to a tenth of the values into
`Timestamp` objects one by one, even when they are already datetime64. On the frames a range run passes around
(a season of box scores, already datetime64) that probe was 8.5 % of a whole run's CPU, for nothing: the
conversion itself is a no-op there, and on strings and `date` objects the uncached parse measured faster too
(docs/performance.md, "2026-12-06"). The result is the same value either way; only the probe is skipped.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def to_datetime(values: Any, **kwargs: Any) -> Any:
    """`pd.to_datetime(values, **kwargs)` with `cache=False` (same result, no per-value probe)."""
    return pd.to_datetime(values, cache=False, **kwargs)
