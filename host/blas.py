"""The BLAS's own thread count, set at runtime: the CPU reference splits a batch over its own
threads, and each of them must then call a single-threaded BLAS.

    with blas.one_thread():   # every BLAS call in the block runs on the calling thread
        ...

Why: the reference's GEMMs are small (a chunk of a batch), OpenBLAS's own threads on them were
measured slower than one thread (benchmarks/RESULTS.md: cnv_w1a2's reference at 2 BLAS threads
ran at half its 1-thread speed), and two threads that each start a multi-threaded OpenBLAS GEMM
contend for the same BLAS threads.

numpy has no call for this, and the usual environment variables (OPENBLAS_NUM_THREADS=1) are
read only when the library loads, so the user would have to set them before starting Python.
Instead the setter is looked up in the BLAS that this process has loaded (numpy's wheels bundle
OpenBLAS with a `64_` suffix on its symbols; Debian's libopenblas has none), the way
threadpoolctl does, with ctypes and /proc/self/maps. Where no setter is found (not Linux, or a
BLAS without one: reference BLAS is single-threaded anyway) `one_thread` does nothing, and
OPENBLAS_NUM_THREADS=1 in the environment is the way to get the same effect.
Standard library only: runs on the board.
"""
import contextlib
import ctypes
import threading
from typing import Iterator, List, NamedTuple, Optional

# The thread-count calls of OpenBLAS, as its builds name them: plain (distributions), with the
# ILP64 suffix (numpy's wheels), with scipy-openblas's prefix (numpy >= 2's wheels).
SETTER_NAMES = ("openblas_set_num_threads", "openblas_set_num_threads64_",
                "scipy_openblas_set_num_threads64_")


class Control(NamedTuple):
    """One loaded BLAS library's thread-count calls."""
    path: str
    set_threads: ctypes._CFuncPtr
    get_threads: ctypes._CFuncPtr


def loaded_libraries(maps: str = "/proc/self/maps") -> List[str]:
    """Paths of the shared libraries mapped into this process whose name mentions blas, in the
    order first mapped; [] where the map cannot be read (not Linux)."""
    try:
        with open(maps) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    paths = [line.split(None, 5)[5] for line in lines if len(line.split(None, 5)) == 6]
    return list(dict.fromkeys(p for p in paths if "blas" in p.rsplit("/", 1)[-1].lower() and ".so" in p))


def find_controls(paths: List[str]) -> List[Control]:
    """The thread-count calls of each library in `paths` that has them."""
    controls = []
    for path in paths:
        try:
            library = ctypes.CDLL(path)   # already loaded: this only takes another reference
        except OSError:
            continue
        for name in SETTER_NAMES:
            setter = getattr(library, name, None)
            getter = getattr(library, name.replace("_set_", "_get_"), None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
                controls.append(Control(path, setter, getter))
                break
    return controls


_controls: Optional[List[Control]] = None
_lock = threading.Lock()
_depth = 0          # how many `one_thread` blocks are open, in any thread
_saved: List[int] = []


def controls() -> List[Control]:
    """The loaded BLAS libraries' thread-count calls, looked up once (numpy loads its BLAS when
    it is imported, so the answer does not change afterwards)."""
    global _controls
    if _controls is None:
        import numpy  # noqa: F401  (its BLAS must be loaded before the map is read)
        _controls = find_controls(loaded_libraries())
    return _controls


@contextlib.contextmanager
def one_thread() -> Iterator[bool]:
    """Every loaded BLAS at one thread inside the block, its previous count restored after;
    yields whether there was a BLAS to set. Blocks may nest and overlap across threads: the
    first one in sets the count, the last one out restores it."""
    global _depth, _saved
    with _lock:
        found = controls()
        if _depth == 0:
            _saved = [c.get_threads() for c in found]
            for c in found:
                c.set_threads(1)
        _depth += 1
    try:
        yield bool(found)
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for c, threads in zip(found, _saved):
                    c.set_threads(threads)
