"""host.blas: the loaded BLAS found through the process map, held at one thread inside the block."""
import threading

import numpy as np

from host import blas

MAPS = """\
7f00-7f01 r-xp 00000000 08:01 11 /usr/lib/libc.so.6
7f01-7f02 r-xp 00000000 08:01 12 /opt/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so
7f02-7f03 r--p 00001000 08:01 12 /opt/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so
7f03-7f04 r-xp 00000000 08:01 13 /usr/lib/arm-linux-gnueabihf/openblas-pthread/libblas.so.3
7f04-7f05 r-xp 00000000 08:01 14 /opt/blas tools/not a library
7f05-7f06 rw-p 00000000 00:00 0
"""


def test_loaded_libraries_lists_each_blas_once_in_map_order(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text(MAPS)
    assert blas.loaded_libraries(str(maps)) == [
        "/opt/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so",
        "/usr/lib/arm-linux-gnueabihf/openblas-pthread/libblas.so.3"]


def test_no_map_and_no_library_mean_no_control(tmp_path):
    assert blas.loaded_libraries(str(tmp_path / "missing")) == []
    assert blas.find_controls([str(tmp_path / "libopenblas.so")]) == []


def test_one_thread_holds_every_blas_at_one_and_restores_it():
    before = [c.get_threads() for c in blas.controls()]
    with blas.one_thread() as found:
        assert found == bool(blas.controls())
        assert all(c.get_threads() == 1 for c in blas.controls())
        with blas.one_thread():   # nested: the inner block leaves the count alone
            pass
        assert all(c.get_threads() == 1 for c in blas.controls())
        np.ones((64, 64), np.float32) @ np.ones((64, 64), np.float32)
    assert [c.get_threads() for c in blas.controls()] == before


def test_overlapping_blocks_in_threads_restore_once_the_last_leaves():
    before = [c.get_threads() for c in blas.controls()]
    inside, leave = threading.Event(), threading.Event()

    def hold():
        with blas.one_thread():
            inside.set()
            leave.wait(10)

    other = threading.Thread(target=hold)
    other.start()
    inside.wait(10)
    with blas.one_thread():
        pass
    assert all(c.get_threads() == 1 for c in blas.controls())   # the other block is still open
    leave.set()
    other.join(10)
    assert [c.get_threads() for c in blas.controls()] == before
