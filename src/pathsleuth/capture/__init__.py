"""Capture engine: bytes in, columnar `PacketTable` out.

    ../inputs.py  file / stdin / gzip bz2 xz zstd / tar zip members   -> named byte streams
    sources.py    which streams are captures (pcap / pcapng magic)
    formats.py    sniff the format, open the right reader
    chunks.py     bounded-memory chunk loop shared by the readers
    pcap.py       classic pcap record walker (numba)                  -> RecordBatch
    pcapng.py     pcapng block walker (numba for packet blocks)       -> RecordBatch
    dissect.py    link + IP + TCP/UDP/ICMP walk (numba) writing every column in
                  the same pass                                       -> PacketTable
    reader.py     glues the above: open a path, stream PacketTable chunks
    summary.py    folds chunks into a per-capture summary (numba; decode command)
    writer.py     the project's own pcap / pcapng writer; craft.py builds frames for it

Nothing in this package prints; errors are `pathsleuth.errors.BadInput`.
"""
