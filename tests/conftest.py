"""Shared test fixtures: corpus locations and the root / corpus markers' policy.

`corpus` tests read ../shared/captures and ../shared/maillogs; under CI=true a missing
corpus is a failure, elsewhere a skip. `needs_root` tests are skipped when not root
(CI runs as root, so there they always run).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CAPTURES = SHARED / "captures"
MAILLOGS = SHARED / "maillogs"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _need_dir(path: Path) -> Path:
    if not path.is_dir():
        msg = f"corpus directory {path} is missing"
        if IN_CI:
            pytest.fail(msg + " (CI=true: a missing corpus is a failure)")
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    return _need_dir(CAPTURES)


@pytest.fixture(scope="session")
def maillogs_dir() -> Path:
    return _need_dir(MAILLOGS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (network namespaces); CI runs as root")
    for item in items:
        if "needs_root" in item.keywords:
            if IN_CI:
                continue  # let it fail loudly: CI must be root
            item.add_marker(skip)
