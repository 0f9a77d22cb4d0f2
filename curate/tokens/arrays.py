"""numpy <-> Arrow for the tokenize stage, over raw buffers.

pyarrow imports pandas, when it is installed, on the first `pa.array`, `pa.scalar` or
`Array.to_numpy` call of a process (to check for pandas objects): 0.4-0.5 s on the 2-core machine
(`python -X importtime`), paid by the stage's main process and by each encode worker, on a run
of ~15 s (`pq.read_table` too: it imports pyarrow.dataset, which imports pandas; the stage reads
with `pq.ParquetFile`). These helpers build and read primitive arrays from their buffers instead,
which never looks for pandas (tests/test_tokenize.py checks that a run leaves pandas unimported).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def from_numpy(values: np.ndarray) -> pa.Array:
    """A primitive Arrow array over a 1-d numpy array's memory (no nulls; no copy when contiguous)."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def to_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A read-only numpy view of a primitive (integer or float) Arrow array without nulls."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count or not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        raise ValueError(f"not a primitive array without nulls: {array.type}, {array.null_count} nulls")
    dtype = np.dtype(array.type.to_pandas_dtype())  # a numpy type; pandas itself is not imported
    start = array.offset * dtype.itemsize
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=start)


def strings(values: list[str]) -> pa.Array:
    """An Arrow string array of `values`."""
    data = [v.encode() for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(data), buffers)


def nonzero(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Positions where a boolean array is true, as int64."""
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    return to_numpy(pc.indices_nonzero(mask)).astype(np.int64)
