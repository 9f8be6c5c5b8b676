"""`_numba_cache.configure`: a private NUMBA_CACHE_DIR only when numba has nowhere to write."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pathsleuth import _numba_cache


def _no_default_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make the package directory read-only (as seen by os.access) and the user cache
    directory impossible to create. NUMBA_CACHE_DIR and numba's config are restored after
    the test (configure() sets both)."""
    import numba

    monkeypatch.setenv("NUMBA_CACHE_DIR", "")  # unset for configure(), restored after
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    here = os.path.dirname(os.path.abspath(_numba_cache.__file__))
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if p == here else real(p, m))
    monkeypatch.setattr(_numba_cache.tempfile, "gettempdir", lambda: str(tmp_path))


def test_private_dir_when_nothing_is_writable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_default_cache(monkeypatch, tmp_path)
    _numba_cache.configure()
    path = os.environ["NUMBA_CACHE_DIR"]
    assert path == str(tmp_path / f"pathsleuth-numba-{os.getuid()}")
    st = os.stat(path)
    assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077 == 0


def test_a_shared_name_open_to_others_is_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_default_cache(monkeypatch, tmp_path)
    taken = tmp_path / f"pathsleuth-numba-{os.getuid()}"
    taken.mkdir()
    taken.chmod(0o777)  # someone prepared it for us: a cache is loaded as code
    _numba_cache.configure()
    path = os.environ["NUMBA_CACHE_DIR"]
    assert path != str(taken) and os.path.isdir(path)
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0


def test_left_alone_when_set_or_when_the_package_is_writable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    _numba_cache.configure()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")
    monkeypatch.setattr(os, "access", lambda p, m: True)
    _numba_cache.configure()
    assert os.environ["NUMBA_CACHE_DIR"] == ""
