"""Helpers of the second audit's tests: one-line errors, snapshots of what lies outside ``--out-dir``, real
``python -m handgrad`` processes (optionally without root's permission override), checkpoints edited by hand."""
import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[2] / "src"
TINY = ["--validation-size", "100", "--batch-size", "50", "--no-progress", "--warmup-epochs", "0", "--epochs", "1"]
MODEL = textwrap.dedent("""
    import handgrad as hg

    def small(input_shape, num_classes):
        layers = [hg.Conv2D(4, 3, stride=2), hg.ELU(), hg.MaxPool2D(2), hg.Flatten(), hg.Dense(num_classes)]
        return hg.Sequential(layers, input_shape=input_shape, seed=3)
""")
# Run by root, a child drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its bounding set and execs Python: it
# then obeys file permissions like any user (as tests/cli/test_cli_errors.py does).
DROP_DAC = """import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in (1, 2):
    if libc.prctl(24, cap, 0, 0, 0) != 0:
        sys.exit(99)
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def snapshot(root: Path, skip=()) -> dict:
    """``relative path -> what it is`` for everything under ``root`` (links not followed), less ``skip`` trees."""
    skip = [Path(s).resolve() for s in skip]
    out = {}
    for here, dirs, files in os.walk(root, followlinks=False):
        here = Path(here)
        dirs[:] = [d for d in dirs if (here / d).resolve() not in skip or (here / d).is_symlink()]
        for name in [*dirs, *files]:
            path = here / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                what = ("link", os.readlink(path))
            elif stat.S_ISREG(mode):
                what = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), stat.S_IMODE(mode))
            else:
                what = (stat.S_IFMT(mode),)
            out[str(path.relative_to(root))] = what
    return out


def process_env(home: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(SRC), "HOME": str(home)}
    env.pop("HANDGRAD_DATA", None)
    return env


def handgrad(argv, home: Path, unprivileged: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """``python -m handgrad ARGV`` as a real process (``unprivileged``: without root's permission override)."""
    prefix = [sys.executable, "-c", DROP_DAC] if unprivileged and os.geteuid() == 0 else [sys.executable]
    env = {**process_env(home), **kwargs.pop("env", {})}
    return subprocess.run([*prefix, "-m", "handgrad", *map(str, argv)], env=env, capture_output=True, text=True,
                          timeout=300, **kwargs)


def rewrite_checkpoint(src: Path, dst: Path, meta=None, arrays=None) -> Path:
    """A copy of checkpoint ``src`` at ``dst`` (a real .npz) with meta fields changed (None: removed) and arrays
    replaced, as a careless or hostile user would edit it."""
    with np.load(src, allow_pickle=False) as data:
        content = {k: data[k] for k in data.files}
    old = json.loads(str(content["meta"]))
    for key, value in (meta or {}).items():
        if value is None:
            old.pop(key, None)
        else:
            old[key] = value
    content["meta"] = np.array(json.dumps(old))
    content.update(arrays or {})
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "wb") as f:
        np.savez(f, **content)
    return dst


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
