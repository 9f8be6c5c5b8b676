"""pathsleuth: why does mail (or any TCP transfer) to some destinations stall?

Data flows one way, one package per stage:

    bytes --capture/--> PacketTable --tcp/--> ConnectionTable --diagnose/--> Findings --report/--> text, JSON, HTML
                                                      ^                         ^
                                  maillog/ -- LogEvents             probe/ -- HopResults

`lab/` builds network-namespace labs that produce real captures and mail logs; `cli.py`
only wires the stages together. Measuring never prints; `report/` is the only place that
formats for people.
"""

from pathsleuth import _numba_cache

_numba_cache.configure()

__version__ = "0.1.0"
