"""runtime.analysis_settings: what it changes during an analysis and that it puts it back."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from pathsleuth import pipeline, runtime


def _hugepages() -> bool:
    setter = runtime._hugepage_switch()
    assert setter is not None, "this NumPy has no huge-page switch"
    was = setter(True)
    setter(was)
    return was


@pytest.fixture
def restore() -> Iterator[None]:
    setter = runtime._hugepage_switch()
    assert setter is not None
    hp, gc_on = _hugepages(), gc.isenabled()
    yield
    setter(hp)
    gc.enable() if gc_on else gc.disable()


@pytest.mark.parametrize("hp_before", [True, False])
@pytest.mark.parametrize("gc_before", [True, False])
def test_settings_change_for_the_duration_and_are_put_back(
    restore: None, hp_before: bool, gc_before: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(runtime.HUGEPAGES_ENV, raising=False)
    setter = runtime._hugepage_switch()
    assert setter is not None
    setter(hp_before)
    gc.enable() if gc_before else gc.disable()
    with runtime.analysis_settings():
        assert _hugepages() is False
        assert not gc.isenabled()
    assert _hugepages() is hp_before
    assert gc.isenabled() is gc_before


def test_settings_are_put_back_when_the_analysis_raises(
    restore: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(runtime.HUGEPAGES_ENV, raising=False)
    gc.enable()
    setter = runtime._hugepage_switch()
    assert setter is not None
    setter(True)
    with pytest.raises(RuntimeError), runtime.analysis_settings():
        raise RuntimeError("bad capture")
    assert _hugepages() is True
    assert gc.isenabled()


def test_environment_keeps_numpy_hugepages(restore: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.HUGEPAGES_ENV, "1")
    setter = runtime._hugepage_switch()
    assert setter is not None
    setter(True)
    with runtime.analysis_settings():
        assert _hugepages() is True
        assert not gc.isenabled()


def test_analyze_paths_runs_under_the_settings(
    restore: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The pipeline's analysis, not only the context manager, sees the settings."""
    monkeypatch.delenv(runtime.HUGEPAGES_ENV, raising=False)
    seen: list[tuple[bool, bool]] = []
    real = pipeline.analyze_table

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((_hugepages(), gc.isenabled()))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "analyze_table", spy)
    from pathsleuth.capture import craft
    from pathsleuth.capture.writer import PcapWriter

    path = tmp_path / "one.pcap"
    with open(path, "wb") as f:
        w = PcapWriter(f, 1)
        w.write(craft.frame(1, craft.tcp("192.0.2.1", "192.0.2.2", 1000, 25, seq=1)), 0)
    gc.enable()
    pipeline.analyze_paths([str(path)])
    assert seen == [(False, False)]
    assert gc.isenabled()
