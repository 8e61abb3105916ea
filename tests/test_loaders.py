"""Dataset files are read as data only: a crafted CIFAR batch cannot run code (DESIGN §7)."""

from __future__ import annotations

import builtins
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from envs.loaders import DatasetNotFoundError, load_vision
from tests.fake_data import fake_cifar


class RunsCode:
    """Unpickling this calls ``func(*args)``: the classic pickle exploit."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def exploits(marker):
    """Payloads that would create ``marker`` if anything called them."""
    return {
        "os.system": RunsCode(os.system, f"touch {marker}"),
        "builtins.exec": RunsCode(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
        "nested in the dict": {
            "data": np.zeros((1, 3072), np.uint8),
            "labels": [RunsCode(os.system, f"touch {marker}")],
        },
    }


@pytest.mark.parametrize("kind", ["os.system", "builtins.exec", "nested in the dict"])
def test_a_crafted_cifar_batch_is_refused_and_runs_nothing(tmp_path, kind):
    root = fake_cifar(tmp_path / "data")
    marker = tmp_path / "PWNED"
    batch = root / "cifar-10-batches-py/data_batch_3"
    batch.write_bytes(pickle.dumps(exploits(marker)[kind], protocol=2))
    with pytest.raises(DatasetNotFoundError) as e:
        load_vision("CIFAR10", root)
    message = str(e.value)
    assert str(batch) in message and "refused" in message and "\n" not in message
    assert ("exec" if kind == "builtins.exec" else "global posix.system") in message
    assert not marker.exists()


def py2_batch(data: np.ndarray, labels: list[int]) -> bytes:
    """The bytes Python 2's cPickle (protocol 2) wrote for a CIFAR batch: str keys and the
    array's raw data as Python 2 ``str`` (``BINSTRING``), which Python 3 itself never writes."""

    def s(text: bytes) -> bytes:  # SHORT_BINSTRING
        return b"U" + bytes([len(text)]) + text

    def i(n: int) -> bytes:  # BININT, signed 4 bytes
        return b"J" + struct.pack("<i", n)

    raw = data.tobytes()
    ops = [
        b"\x80\x02}(",  # PROTO 2, {, MARK
        s(b"data"),
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n",
        i(0) + b"\x85" + s(b"b") + b"\x87R",  # _reconstruct(ndarray, (0,), 'b')
        b"(" + i(1) + i(data.shape[0]) + i(data.shape[1]) + b"\x86",  # MARK 1, shape
        b"cnumpy\ndtype\n" + s(b"u1") + i(0) + i(1) + b"\x87R",  # dtype('u1', 0, 1)
        b"(" + i(3) + s(b"|") + b"NNN" + i(-1) + i(-1) + i(0) + b"tb",  # the dtype's state
        b"\x89T" + struct.pack("<i", len(raw)) + raw + b"tb",  # False, raw; the array's state
        s(b"labels") + b"](" + b"".join(i(n) for n in labels) + b"e",
        b"u.",  # SETITEMS, STOP
    ]
    return b"".join(ops)


@pytest.mark.parametrize("written_by", ["python2", "python3 protocol 2, bytes keys"])
def test_a_genuine_cifar_batch_still_loads(tmp_path, written_by):
    root = fake_cifar(tmp_path)
    data = np.random.default_rng(1).integers(0, 256, (7, 3072), dtype=np.uint8)
    labels = [3, 1, 4, 1, 5, 9, 2]
    if written_by == "python2":
        blob = py2_batch(data, labels)
    else:
        blob = pickle.dumps({b"batch_label": b"x", b"data": data, b"labels": labels}, protocol=2)
    (root / "cifar-10-batches-py/test_batch").write_bytes(blob)
    X, y, num_test = load_vision("CIFAR10", root)
    assert num_test == 7 and X.dtype == torch.uint8 and X.shape[1:] == (3, 32, 32)
    assert torch.equal(X[-7:], torch.as_tensor(data).reshape(7, 3, 32, 32))
    assert y[-7:].tolist() == labels


def test_the_python2_helper_writes_what_pickle_reads():
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    entry = pickle.loads(py2_batch(data, [0, 1]), encoding="latin1")
    assert np.array_equal(entry["data"], data) and entry["labels"] == [0, 1]
