"""Capture engine: bytes in, columnar `PacketTable` out.

    sources.py   file / stdin / gzip bz2 xz zstd / tar zip members  -> named byte streams
    pcap.py      classic pcap record walker (numba)                  -> RecordBatch
    pcapng.py    pcapng block walker (numba for packet blocks)       -> RecordBatch
    dissect.py   link + IP + TCP/UDP/ICMP walk (numba) and vectorised field extraction
                 from the header layouts in layouts.py              -> PacketTable
    reader.py    glues the above: open a path, stream PacketTable chunks with bounded memory
    summary.py   folds chunks into a per-capture summary (decode command)
    writer.py    the project's own pcap / pcapng writer; craft.py builds frames for it

Nothing in this package prints; errors are `pathsleuth.errors.BadInput`.
"""
