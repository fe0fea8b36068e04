"""Compression is planrun's, not pg_dump's: pg_dump writes an uncompressed archive (-Z0) and
planrun compresses the stream in-process. zstd (multi-threaded) is several times faster than
pg_dump's own zlib for a smaller file; no external binary is needed."""

from __future__ import annotations

import zlib
from typing import Protocol

SUFFIXES = {"zstd": ".zst", "gzip": ".gz", "none": ""}


class Compressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class Decompressor(Protocol):
    def decompress(self, data: bytes) -> bytes: ...


class _Identity:
    def compress(self, data: bytes) -> bytes:
        return data

    def decompress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


def compressor(kind: str, level: int | None = None, threads: int = -1) -> Compressor:
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=level or 1, threads=threads).compressobj()
    if kind == "gzip":
        return zlib.compressobj(min(level or 6, 9), zlib.DEFLATED, 31)
    return _Identity()


def decompressor(kind: str) -> Decompressor:
    if kind == "zstd":
        import zstandard

        return _ZstdStream(zstandard.ZstdDecompressor())
    if kind == "gzip":
        return zlib.decompressobj(31)
    return _Identity()


class _ZstdStream:
    """zstandard's decompressobj stops after one frame; a multi-threaded compressor may write
    several, so start a new one whenever a frame ends."""

    def __init__(self, context):
        self.context = context
        self.current = context.decompressobj()

    def decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self.current.decompress(data))
            data = self.current.unused_data
            if self.current.eof:
                self.current = self.context.decompressobj()
            elif not data:
                break
        return b"".join(out)
