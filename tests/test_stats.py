"""Statistics for RL results: known answers and agreement with scipy."""

import numpy as np
import pytest
from scipy import stats

from eval.stats import iqm, rank_correlation, stratified_bootstrap_ci
from eval.transfer import markdown_table, records, summarize


@pytest.mark.parametrize("n", [1, 3, 4, 7, 8, 50])
def test_iqm_equals_scipys_quarter_trimmed_mean(n):
    values = np.random.default_rng(n).normal(size=n)
    assert iqm(values) == pytest.approx(stats.trim_mean(values, 0.25))
    rows = np.random.default_rng(0).normal(size=(5, n))
    np.testing.assert_allclose(iqm(rows, axis=-1), stats.trim_mean(rows, 0.25, axis=1))


def test_iqm_ignores_outliers():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 1000]) == pytest.approx(4.5)


def test_bootstrap_interval_covers_the_statistic_and_shrinks_with_data():
    rng = np.random.default_rng(0)
    small = [rng.normal(1.0, 1.0, 10) for _ in range(3)]
    large = [rng.normal(1.0, 1.0, 400) for _ in range(3)]
    lo_s, hi_s = stratified_bootstrap_ci(small)
    lo_l, hi_l = stratified_bootstrap_ci(large)
    assert lo_l < iqm(np.concatenate(large)) < hi_l and lo_l < 1.0 < hi_l
    assert hi_l - lo_l < hi_s - lo_s
    assert stratified_bootstrap_ci([np.ones(5), np.ones(3)]) == (1.0, 1.0)


def test_bootstrap_resamples_within_strata():
    # one stratum all 0, one all 10: every resample keeps 5 of each, so the mean is always 5
    assert stratified_bootstrap_ci([np.zeros(5), np.full(5, 10.0)], statistic=np.mean) == (5.0, 5.0)
    with pytest.raises(ValueError, match="confidence"):
        stratified_bootstrap_ci([np.ones(3)], confidence=1.5)


def test_rank_correlation():
    rho, p = rank_correlation([1, 2, 3, 4, 5], [2, 4, 6, 8, 100])
    assert rho == pytest.approx(1.0) and p < 0.05
    with pytest.raises(ValueError, match="at least 3"):
        rank_correlation([1, 2], [1, 2])


def test_summary_aggregates_over_seeds_and_reports_the_target_source_ratio():
    rows = records("darla", 0, {"source": [2.0, 4.0], "target": [1.0, 3.0]})
    rows += records("darla", 1, {"source": [4.0, 6.0], "target": [3.0, 3.0]})
    summary = {(s["variant"], s["domain"]): s for s in summarize(rows)}
    source, target = summary[("darla", "source")], summary[("darla", "target")]
    assert source["mean"] == pytest.approx(4.0) and source["std"] == pytest.approx(np.std([3.0, 5.0], ddof=1))
    assert target["mean"] == pytest.approx(2.5) and target["vs_source"] == pytest.approx(2.5 / 4.0)
    assert source["seeds"] == 2 and source["episodes"] == 4
    table = markdown_table(summarize(rows))
    assert "| darla | target | 2 | 2.50 ± 0.71 |" in table and "62%" in table
