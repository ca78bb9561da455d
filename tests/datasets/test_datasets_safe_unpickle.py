"""The restricted unpickler refuses code-running pickles before anything runs, and still reads NumPy arrays."""
from __future__ import annotations

import builtins
import os
import pickle

import numpy as np
import pytest

from handgrad.datasets import ForbiddenGlobalError, load
from handgrad.datasets.safe_unpickle import safe_loads


class _Payload:
    """Unpickling this calls ``func(*args)``: with plain ``pickle.loads`` it creates ``marker``."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker):
    return {
        "os.system": (_Payload(os.system, (f"touch '{marker}'",)), "posix.system"),
        # Protocol 2 writes the Python 2 module name of builtins; the error names the global as the file does.
        "builtins.eval": (_Payload(builtins.eval, (f"open({str(marker)!r}, 'w').close()",)), "__builtin__.eval"),
        "builtins.exec": (_Payload(builtins.exec, (f"open({str(marker)!r}, 'w').close()",)), "__builtin__.exec"),
    }


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "builtins.exec"])
def test_payload_is_live_with_plain_pickle(tmp_path, kind):
    # The control: the same bytes DO run code when read with pickle.loads, so the refusal below is meaningful.
    marker = tmp_path / "pwned"
    payload, _ = _payloads(marker)[kind]
    pickle.loads(pickle.dumps(payload, protocol=2))
    assert marker.exists()


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "builtins.exec"])
def test_malicious_pickle_refused_and_never_runs(tmp_path, kind):
    marker = tmp_path / "pwned"
    payload, global_name = _payloads(marker)[kind]
    blob = pickle.dumps({b"data": payload}, protocol=2)
    with pytest.raises(pickle.UnpicklingError) as info:
        safe_loads(blob, source="evil.pkl")
    assert isinstance(info.value, ForbiddenGlobalError)
    assert global_name in str(info.value) and "evil.pkl" in str(info.value)
    assert not marker.exists()


def test_malicious_cifar_batch_refused_by_load(tmp_path, fmt):
    marker = tmp_path / "pwned"
    blob = fmt.py2_pickle({b"data": _Payload(os.system, (f"touch '{marker}'",)), b"labels": [0]})
    (tmp_path / "test_batch").write_bytes(blob)
    with pytest.raises(ForbiddenGlobalError, match=r"test_batch: refusing to load forbidden global posix.system"):
        load("cifar10", "test", data_dir=tmp_path, download=False)
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [("numpy", "load"), ("numpy.core.multiarray", "scalar"),
                                          ("subprocess", "Popen"), ("numpy.testing", "assert_")])
def test_any_other_global_is_refused(module, name):
    blob = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R."
    with pytest.raises(ForbiddenGlobalError, match=f"forbidden global {module}.{name}"):
        safe_loads(blob)


def test_codecs_encode_only_latin1():
    ok = pickle.dumps(b"\x00\xffabc", protocol=2)  # Python 3 writes bytes as _codecs.encode(str, 'latin1')
    assert b"_codecs" in ok and safe_loads(ok) == b"\x00\xffabc"
    bad = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(ForbiddenGlobalError, match="only encode"):
        safe_loads(bad)


@pytest.mark.parametrize("array", [np.arange(12, dtype=np.uint8).reshape(3, 4), np.linspace(0, 1, 5),
                                   np.arange(6, dtype=">i4").reshape(2, 3), np.asfortranarray(np.eye(3))])
def test_benign_pickles_read_exactly_as_pickle_loads_reads_them(fmt, array):
    # Reference: plain pickle.loads on the same (trusted, self-made) bytes.
    obj = {b"a": array, b"b": [1, 2.5, None, True], b"c": (b"x", "y")}
    for blob in (pickle.dumps(obj, protocol=2), pickle.dumps(obj, protocol=4), fmt.py2_pickle(obj)):
        got, expected = safe_loads(blob), pickle.loads(blob, encoding="bytes")
        np.testing.assert_array_equal(got[b"a"], array)
        assert got[b"a"].dtype == expected[b"a"].dtype
        assert got[b"b"] == expected[b"b"] == [1, 2.5, None, True]
        assert got[b"c"] == expected[b"c"]
