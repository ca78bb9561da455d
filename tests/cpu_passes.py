"""``make test-cpus``: the kernel and layer tests again, as older CPUs and the NumPy kernels would run them.

    python tests/cpu_passes.py [pytest arguments]   # default: tests/kernels tests/layers, the fused optimizers

NumPy picks its SIMD loops (``expm1``, ``exp``, ``minimum``, ...) by CPU at import, and numba compiles for the
host CPU, so one machine normally exercises one set of code paths. Three passes change that, each printed
with what it disabled:

(a) NumPy without its AVX-512 loops (``NPY_DISABLE_CPU_FEATURES`` naming them) and numba compiling for
    Haswell (AVX2 + FMA3, ``NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=``);
(b) NumPy without its AVX2/FMA3 loops (and AVX-512, which depends on them), numba compiling for a generic
    x86-64 (SSE2, no FMA: the ELU kernel's unfused variant);
(c) ``HANDGRAD_KERNELS=numpy``: the layers on the NumPy reference kernels.

NumPy refuses to disable a baseline feature and ignores one it does not dispatch (with an ImportWarning),
and NumPy 1.26 and 2.x name their targets differently (1.26: ``AVX512F``, ``AVX512_SKX``, ``AVX2``, ``FMA3``
...; 2.x: groups ``X86_V3``, ``X86_V4``, ``AVX512_ICL`` ...), so the names come from
``__cpu_dispatch__`` (targets built into this NumPy) and ``__cpu_features__`` (those this CPU has). A pass
with nothing to disable on the CPU at hand (no AVX-512; an arm64 CPU) is skipped with a message. Each pass
checks in a fresh interpreter that the named targets are really off before running the tests.

numba caches compiled kernels on disk (``cache=True``) under a key that includes the CPU name and
features, so the Haswell and generic builds are compiled once and kept beside the host's.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

try:
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
except ImportError:  # NumPy 1.26
    from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__

DEFAULT_TESTS = ["tests/kernels", "tests/layers", "tests/optim/test_fused_updates.py"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
X86 = platform.machine().lower() in ("x86_64", "amd64")

CHECK = """
import json
try:
    from numpy._core._multiarray_umath import __cpu_features__
except ImportError:
    from numpy.core._multiarray_umath import __cpu_features__
print(json.dumps(__cpu_features__))
"""


def dispatched(names) -> list[str]:
    """The names among NumPy's dispatch targets that this CPU has (the ones NumPy would pick), in NumPy's order."""
    return [name for name in __cpu_dispatch__ if name in names and __cpu_features__.get(name)]


def avx512_targets() -> list[str]:
    return [name for name in __cpu_dispatch__ if (name.startswith("AVX512") or name == "X86_V4")
            and __cpu_features__.get(name)]


def passes() -> list[tuple[str, dict, str]]:
    """``(title, environment, reason to skip or "")`` for each pass."""
    avx512 = avx512_targets()
    avx2 = dispatched({"AVX2", "FMA3", "X86_V3"}) + avx512
    has_haswell = X86 and __cpu_features__.get("AVX2") and __cpu_features__.get("FMA3")
    a = {"NPY_DISABLE_CPU_FEATURES": " ".join(avx512)}
    if has_haswell:
        a.update(NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="")
    return [
        ("(a) NumPy without AVX-512, numba for Haswell" if has_haswell else "(a) NumPy without AVX-512", a,
         "" if avx512 else "this CPU has no AVX-512 loops NumPy would pick"),
        ("(b) NumPy without AVX2/FMA3 and AVX-512, numba for a generic CPU",
         {"NPY_DISABLE_CPU_FEATURES": " ".join(avx2), "NUMBA_CPU_NAME": "generic", "NUMBA_CPU_FEATURES": ""},
         "" if avx2 else "this CPU has no AVX2/FMA3 loops NumPy would pick"),
        ("(c) the NumPy reference kernels", {"HANDGRAD_KERNELS": "numpy"}, ""),
    ]


def check_disabled(env: dict) -> list[str]:
    """Start NumPy with ``env``; return the targets it was asked to disable that are still on (none, we hope)."""
    names = env.get("NPY_DISABLE_CPU_FEATURES", "").split()
    if not names:
        return []
    out = subprocess.run([sys.executable, "-c", CHECK], env={**os.environ, **env}, capture_output=True, text=True,
                         check=True)
    features = json.loads(out.stdout)
    return [name for name in names if features.get(name)]


def main(argv: list[str]) -> int:
    tests = argv or DEFAULT_TESTS
    print(f"NumPy {np.__version__} on {platform.machine()}: dispatch targets this CPU runs: "
          f"{' '.join(dispatched(set(__cpu_dispatch__))) or 'none'}")
    failed = []
    for title, env, skip in passes():
        settings = " ".join(f"{k}={v!r}" if " " in v or not v else f"{k}={v}" for k, v in env.items())
        print(f"\n=== pass {title}\n    {settings}", flush=True)
        if skip:
            print(f"    skipped: {skip}")
            continue
        still_on = check_disabled(env)
        if still_on:
            print(f"    NumPy did not disable {' '.join(still_on)}")
            failed.append(title)
            continue
        if "NPY_DISABLE_CPU_FEATURES" in env:
            print(f"    disabled in NumPy: {env['NPY_DISABLE_CPU_FEATURES']}")
        start = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", *tests], env={**os.environ, **env}, cwd=ROOT)
        print(f"    pass {title.split()[0]}: exit {result.returncode} in {time.monotonic() - start:.0f} s", flush=True)
        if result.returncode != 0:
            failed.append(title)
    if failed:
        print("\nfailed: " + "; ".join(failed))
        return 1
    print("\nall passes passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
