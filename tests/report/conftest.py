"""Fixtures for the report tests; the sample objects live in `report_samples`."""

from __future__ import annotations

import pytest
from report_samples import SEED_FILE, Result, healthy_result, sample_result, seed_points

from pathsleuth.report.views import SeqPoint


@pytest.fixture
def result() -> Result:
    return sample_result()


@pytest.fixture
def healthy() -> Result:
    return healthy_result()


@pytest.fixture
def seed_series() -> dict[tuple[str, int], list[SeqPoint]]:
    return {(SEED_FILE, 7): seed_points()}
