"""Rows on the wire between ``glashaus serve`` and the remote client: Arrow IPC streams.

Rows travel as Arrow IPC streams (``application/vnd.apache.arrow.stream``), one
message per record batch of at most :data:`BATCH_ROWS` rows. The server sends a batch's
column buffers as they are (:func:`ipc_stream` yields its pieces, uncopied); a stream that
fails half-way ends with an error trailer (:func:`read_stream` raises it). JSON values
(arguments and replies) are ``codec.py``'s; errors are ``glashaus.http.errors``'.

>>> read_stream(ipc_bytes(pa.table({"n": [1, 2]}))).num_rows
2
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from glashaus.errors import GlashausError
from glashaus.http.errors import error_class, hide_paths

log = logging.getLogger("glashaus.server")

ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: Most rows per record batch on the wire (``benchmarks/server_read.py``: fewer, larger batches
#: cost less per row to send than 64 Ki-row ones; a 10M-row read was ~15% faster).
BATCH_ROWS = 256 * 1024


# -- Arrow IPC ----------------------------------------------------------------------------


#: Pieces of an IPC stream smaller than this are joined; larger ones (column buffers) go out as they are.
_SMALL_PIECE = 64 * 1024


class _Sink:
    """A write-only file that hands out what was written since the last ``take``."""

    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.closed = False

    def write(self, data: Any) -> int:
        # Arrow hands over its own (immutable) buffers for the column data: keep them as they are.
        self.parts.append(data)
        return memoryview(data).nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> list[bytes | memoryview]:
        """The pieces written since the last call: column buffers as they are (no copy), small
        pieces (message headers, padding) joined, so a server sends a batch without copying it."""
        out: list[bytes | memoryview] = []
        small: list[Any] = []
        for part in self.parts:
            view = memoryview(part)
            if view.nbytes < _SMALL_PIECE:
                small.append(view)
                continue
            if small:
                out.append(b"".join(small))
                small = []
            out.append(view)
        if small:
            out.append(b"".join(small))
        self.parts = []
        return out


#: Custom metadata of the empty record batch that ends a stream which failed half-way.
ERROR_CODE_KEY, ERROR_MESSAGE_KEY = b"glashaus.error_code", b"glashaus.message"


class StreamAborted(Exception):
    """Raised after an error trailer was sent: the HTTP body must end broken, never look complete."""


def ipc_stream(
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    *,
    batch_rows: int = BATCH_ROWS,
    hidden: Iterable[str] = (),
) -> Iterator[list[bytes | memoryview]]:
    """An Arrow IPC stream, read from ``batches`` as it is sent: per record batch, its pieces in
    order (the column buffers themselves, uncopied; send each, or join them: :func:`ipc_bytes`).

    If ``batches`` fails with a :class:`GlashausError` after the stream began (the status
    line is out), the stream ends with an empty batch whose custom metadata carries the
    error (:data:`ERROR_CODE_KEY`, :data:`ERROR_MESSAGE_KEY`; :func:`read_stream` raises
    it) and then :class:`StreamAborted`, so that the HTTP body is cut short: no client
    can take a truncated result for a whole one. The paths in ``hidden`` (the lakehouse
    root) are replaced in that message as in every other error (:func:`hide_paths`).

    >>> pieces = ipc_stream(pa.schema([("n", pa.int64())]), [pa.record_batch({"n": [1]})])
    >>> read_stream(b"".join(p for batch in pieces for p in batch)).num_rows
    1
    """
    sink = _Sink()
    writer = pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), schema)
    yield sink.take()
    try:
        for batch in batches:
            for offset in range(0, max(batch.num_rows, 1), batch_rows):
                writer.write_batch(batch.slice(offset, batch_rows) if batch.num_rows > batch_rows else batch)
                yield sink.take()
    except GlashausError as exc:
        failure: tuple[str, str] = (exc.code, hide_paths(str(exc), hidden))
    except Exception as exc:
        failure = (
            "INTERNAL_ERROR",
            (f"the result stream failed half-way ({type(exc).__name__}); the server log has the details."),
        )
        log.exception("a result stream failed half-way")
    else:
        writer.close()
        yield sink.take()
        return
    empty = pa.RecordBatch.from_pylist([], schema=schema)
    writer.write_batch(
        empty, custom_metadata={ERROR_CODE_KEY: failure[0].encode(), ERROR_MESSAGE_KEY: failure[1].encode()}
    )
    yield sink.take()
    raise StreamAborted(f"{failure[0]}: {failure[1]}")


def ipc_chunks(
    table: pa.Table, *, batch_rows: int = BATCH_ROWS, hidden: Iterable[str] = ()
) -> Iterator[list[bytes | memoryview]]:
    """An Arrow IPC stream of ``table``, the pieces of one record batch at a time (see :func:`ipc_stream`)."""
    return ipc_stream(table.schema, table.to_batches(max_chunksize=batch_rows), batch_rows=batch_rows, hidden=hidden)


def ipc_bytes(table: pa.Table) -> bytes:
    """``table`` as one Arrow IPC stream."""
    return b"".join(piece for pieces in ipc_chunks(table) for piece in pieces)


def read_ipc(data: bytes | Any) -> pa.Table:
    """A table from an Arrow IPC stream (bytes or a readable file object)."""
    source = pa.py_buffer(data) if isinstance(data, bytes | bytearray) else data
    return pa.ipc.open_stream(source).read_all()


def read_stream(data: bytes | Any) -> pa.Table:
    """A table from a streamed response body; raises the error a failed stream ends with.

    >>> read_stream(ipc_bytes(pa.table({"n": [1]}))).num_rows
    1
    """
    source = pa.py_buffer(data) if isinstance(data, bytes | bytearray) else data
    reader = pa.ipc.open_stream(source)
    batches = []
    while True:
        try:
            batch, metadata = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            break
        if metadata is not None and ERROR_CODE_KEY in metadata:
            raise error_class(metadata[ERROR_CODE_KEY].decode())(metadata.get(ERROR_MESSAGE_KEY, b"").decode())
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=reader.schema)


class ChunkReader:
    """A readable file over an iterator of byte chunks (a streamed HTTP body)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._parts: collections.deque[bytes | memoryview] = collections.deque()
        self._size = 0
        self.closed = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # Chunks are joined once per read (never re-copied while a large message arrives).
        while size < 0 or self._size < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            if chunk:
                self._parts.append(chunk)
                self._size += len(chunk)
        if size < 0 or size >= self._size:
            out = b"".join(self._parts)
            self._parts.clear()
            self._size = 0
            return out
        pieces, wanted = [], size
        while wanted:
            part = self._parts.popleft()
            if len(part) <= wanted:
                pieces.append(part)
                wanted -= len(part)
            else:
                view = memoryview(part)
                pieces.append(view[:wanted])
                self._parts.appendleft(view[wanted:])
                wanted = 0
        self._size -= size
        return b"".join(pieces)

    def close(self) -> None:
        self.closed = True
