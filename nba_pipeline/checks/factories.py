"""Small factories for the rules that repeat across tables (in the spirit of `create_not_null_check`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from nba_pipeline.checks.rules import (
    SKIPPED_BOOTSTRAP,
    CheckInputs,
    CheckRule,
    verdicts_by_date,
)
from nba_pipeline.config import Thresholds
from nba_pipeline.datetimes import to_datetime

RowMask = Callable[[pd.DataFrame], pd.Series]
ThresholdOf = Callable[[Thresholds], float]
MAX_NAMED = 20


def _date_key(frame: pd.DataFrame) -> pd.Series:
    return to_datetime(frame["game_date"])  # datetime64 already: no work (nba_pipeline/datetimes.py)


def _name(values: pd.Series) -> str:
    unique = pd.unique(values.astype(str))
    more = f" (+{len(unique) - MAX_NAMED} more)" if len(unique) > MAX_NAMED else ""
    return ", ".join(unique[:MAX_NAMED]) + more


def no_duplicate_keys(name: str, keys: Sequence[str]) -> CheckRule:
    def evaluate(inputs: CheckInputs) -> pd.DataFrame:
        f = inputs.frame
        dup = f.duplicated(list(keys), keep=False)
        per_date = dup.groupby(_date_key(f)).agg(rows="size", value="sum")  # the mask alone: no copy of the frame
        named = f[dup].groupby(_date_key(f[dup]))[list(keys)].apply(
            lambda g: "duplicate keys: " + _name(g.astype(str).agg("/".join, axis=1))
        ) if dup.any() else pd.Series(dtype=str)
        per_date["passed"] = per_date["value"] == 0
        per_date["detail"] = named.reindex(per_date.index).fillna("")
        return verdicts_by_date(per_date.reset_index(names="game_date"), inputs)

    return CheckRule(name, f"No two rows share ({', '.join(keys)}).", evaluate, worse="higher", unit="rows")


def no_bad_rows(
    name: str,
    description: str,
    bad: Callable[[pd.DataFrame, Thresholds], pd.Series],
    label_columns: Sequence[str],
    blocking: bool = True,
) -> CheckRule:
    """No row is `bad`; failures name the rows by `label_columns`."""

    def evaluate(inputs: CheckInputs) -> pd.DataFrame:
        f = inputs.frame
        mask = bad(f, inputs.thresholds).fillna(False).astype(bool) if len(f) else pd.Series(dtype=bool)
        labels = f.loc[mask, list(label_columns)].astype(str).agg("/".join, axis=1) if mask.any() else None
        return _bad_row_verdicts(inputs, mask, labels)

    return CheckRule(name, description, evaluate, blocking=blocking, worse="higher", unit="rows")


def no_problem_rows(
    name: str,
    description: str,
    problems: Callable[[pd.DataFrame], pd.Series],
    label_columns: Sequence[str],
    blocking: bool = True,
) -> CheckRule:
    """No row has a problem (`problems` gives each row's, '' for none); failures name the rows and their problems."""

    def evaluate(inputs: CheckInputs) -> pd.DataFrame:
        f = inputs.frame
        said = problems(f) if len(f) else pd.Series(dtype="string")
        mask = (said.fillna("") != "").astype(bool)
        labels = None
        if mask.any():
            labels = f.loc[mask, list(label_columns)].astype(str).agg("/".join, axis=1) + " (" + said[mask] + ")"
        return _bad_row_verdicts(inputs, mask, labels)

    return CheckRule(name, description, evaluate, blocking=blocking, worse="higher", unit="rows")


def _bad_row_verdicts(inputs: CheckInputs, mask: pd.Series, labels: pd.Series | None) -> pd.DataFrame:
    f = inputs.frame
    per_date = mask.groupby(_date_key(f)).agg(rows="size", value="sum")  # the mask alone: no copy of the frame
    per_date["passed"] = per_date["value"] == 0
    if labels is not None:
        per_date["detail"] = labels.groupby(_date_key(f[mask])).apply(lambda s: "rows: " + _name(s))
    per_date["detail"] = per_date.get("detail", pd.Series(index=per_date.index, dtype=str)).fillna("")
    return verdicts_by_date(per_date.reset_index(names="game_date"), inputs)


def min_share(
    name: str,
    description: str,
    ok: RowMask,
    population: RowMask,
    threshold: ThresholdOf,
    blocking: bool = True,
    game_column: str = "source_game_id",
) -> CheckRule:
    """Per date, at least `threshold`% of the population satisfies `ok`; failures name the games with misses."""

    def evaluate(inputs: CheckInputs) -> pd.DataFrame:
        f = inputs.frame
        pop = population(f).fillna(False).astype(bool)
        sub = f[pop]
        good = ok(sub).fillna(False).astype(bool)
        per_date = sub.assign(_ok=good).groupby(_date_key(sub)).agg(rows=("_ok", "size"), good=("_ok", "sum"))
        per_date["value"] = 100.0 * per_date["good"] / per_date["rows"]
        per_date["passed"] = per_date["value"] >= threshold(inputs.thresholds)
        misses = sub[~good]
        if not misses.empty:
            per_date["detail"] = misses.groupby(_date_key(misses))[game_column].apply(lambda s: "games: " + _name(s.fillna("<missing id>")))
        per_date["detail"] = per_date.get("detail", pd.Series(index=per_date.index, dtype=str)).fillna("")
        per_date.loc[per_date["passed"], "detail"] = ""
        return verdicts_by_date(per_date.drop(columns="good").reset_index(names="game_date"), inputs)

    return CheckRule(name, description, evaluate, blocking=blocking, threshold=threshold, worse="lower", unit="%")


def min_mean(name: str, description: str, column: str, population: RowMask, threshold: ThresholdOf,
             unit: str = "") -> CheckRule:
    """Per date, the mean of `column` (in `unit`) over the population is at least `threshold`."""

    def evaluate(inputs: CheckInputs) -> pd.DataFrame:
        f = inputs.frame
        sub = f[population(f).fillna(False).astype(bool)]
        per_date = sub.groupby(_date_key(sub)).agg(rows=(column, "size"), value=(column, "mean"))
        per_date["value"] = per_date["value"].astype(float)
        per_date["passed"] = per_date["value"] >= threshold(inputs.thresholds)
        per_date["detail"] = ""
        per_date.loc[~per_date["passed"], "detail"] = "mean below threshold"
        return verdicts_by_date(per_date.reset_index(names="game_date"), inputs)

    return CheckRule(name, description, evaluate, threshold=threshold, worse="lower", unit=unit)


def skipping_bootstrap(rule: CheckRule, flag: str = "bootstrap_date") -> CheckRule:
    """`rule`, except that dates whose rows are all flagged bootstrap pass as 'skipped: bootstrap' (and say so)."""

    def evaluate(inputs: CheckInputs) -> pd.DataFrame:
        verdicts = rule.evaluate(inputs)
        f = inputs.frame
        all_flagged = f[flag].fillna(False).astype(bool).groupby(_date_key(f)).all()
        skipped = verdicts["game_date"].map(all_flagged).astype("boolean").fillna(False).astype(bool)
        verdicts.loc[skipped, ["passed", "detail"]] = [True, SKIPPED_BOOTSTRAP]
        return verdicts

    return CheckRule(
        rule.name, rule.description + " Bootstrap dates are skipped.", evaluate, rule.blocking, rule.threshold, rule.worse,
        rule.unit,
    )


def expected_rows(name: str, description: str, reference: str, keys: Sequence[str]) -> CheckRule:
    """Every row of the reference frame `reference` has a row here with the same `keys`; misses are named. A date
    the reference has nothing for (e.g. no line posted on it) expects nothing: it passes when the asset has rows
    there, and is judged as any date without rows when it has none."""

    def evaluate(inputs: CheckInputs) -> pd.DataFrame:
        expected = inputs.reference[reference][list(keys)].drop_duplicates()
        found = inputs.frame[list(keys)].drop_duplicates().assign(_found=True)
        joined = expected.merge(found, on=list(keys), how="left")
        missing = joined["_found"].isna()
        per_date = joined.assign(_missing=missing).groupby(_date_key(joined)).agg(rows=("_missing", "size"), value=("_missing", "sum"))
        per_date["passed"] = per_date["value"] == 0
        if missing.any():
            labels = joined.loc[missing, list(keys)].drop(columns="game_date").astype(str).agg("/".join, axis=1)
            per_date["detail"] = labels.groupby(_date_key(joined[missing])).apply(lambda s: "missing: " + _name(s))
        per_date["detail"] = per_date.get("detail", pd.Series(index=per_date.index, dtype=str)).fillna("")
        present = inputs.frame.groupby(_date_key(inputs.frame)).size()
        nothing_expected = present.index.difference(per_date.index)
        if len(nothing_expected):
            per_date = pd.concat([per_date, pd.DataFrame(
                {"rows": present.reindex(nothing_expected).to_numpy(), "value": 0, "passed": True, "detail": ""}, index=nothing_expected,
            )])
        return verdicts_by_date(per_date.reset_index(names="game_date"), inputs)

    return CheckRule(name, description, evaluate, worse="higher", unit="rows")
