"""Where numba keeps compiled kernels when the package's own directory is read-only.

The capture and tcp kernels are compiled with ``cache=True``. numba then needs a writable
cache directory at import time (the module's ``__pycache__``, else ``~/.cache/numba``)
and refuses to import the module when it finds none: a root-owned install run by a user
without a home, such as ``nobody``. `configure()` (run by the package's ``__init__``,
before anything imports numba) leaves numba alone when either place works, and otherwise
points ``NUMBA_CACHE_DIR`` at a private directory under the temp dir: owned by this user
and closed to others (a cache is loaded as code), or a fresh one from mkdtemp when the
shared name is taken.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def _private_dir() -> str:
    path = os.path.join(tempfile.gettempdir(), f"pathsleuth-numba-{os.getuid()}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
        if (
            stat.S_ISDIR(st.st_mode)
            and st.st_uid == os.getuid()
            and (st.st_mode & (stat.S_IRWXG | stat.S_IRWXO)) == 0
        ):
            return path
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="pathsleuth-numba-")


def configure() -> None:
    """Set NUMBA_CACHE_DIR when neither numba default is writable (see module doc)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    if os.access(here, os.W_OK | os.X_OK):
        return
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if _writable(os.path.join(xdg, "numba")):
        return
    path = _private_dir()
    os.environ["NUMBA_CACHE_DIR"] = path
    config = getattr(sys.modules.get("numba"), "config", None)
    if config is not None:  # numba already imported: its config read the environment
        config.CACHE_DIR = path
