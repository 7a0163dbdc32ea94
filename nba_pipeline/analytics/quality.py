"""Per-row quality: a 0-100 score from named penalties, a tier, and the list of issues behind the score."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

TIERS = ((95, "gold"), (85, "silver"), (75, "bronze"), (0, "poor"))


def score_rows(index: pd.Index, penalties: Mapping[str, tuple[pd.Series, int]]) -> pd.DataFrame:
    """quality_score, quality_tier and quality_issues ('issue_a;issue_b') from {issue: (mask, points)}."""
    score = pd.Series(100, index=index, dtype="int64")
    issues = pd.Series("", index=index, dtype="string")
    for name, (mask, points) in penalties.items():
        hit = mask.fillna(False).astype(bool)
        score -= hit.astype("int64") * points
        issues = issues.where(~hit, issues + np.where(issues == "", "", ";") + name)
    score = score.clip(lower=0)
    tier = pd.Series(
        np.select([score >= t for t, _ in TIERS], [name for _, name in TIERS], default="poor"), index=index
    ).astype("string")
    return pd.DataFrame({"quality_score": score.astype("Int64"), "quality_tier": tier, "quality_issues": issues})
