"""Second audit, security: a checkpoint never makes ``evaluate`` run a file it names (1), a planted link in a run
directory is never followed (2), user code that calls ``sys.exit(0)`` never fakes a pass (3), and ``--json`` (or
any output path) never replaces a link, a FIFO or a device such as ``/dev/stdout`` (15). Real processes, real
files in their real formats; each case checks the one-line error, the exit code, that nothing outside
``--out-dir`` changed and that nothing of the run was lost."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from handgrad.cli import main
from tests.cli.audit import MODEL, TINY, handgrad, one_line_error, process_env, rewrite_checkpoint, sha256, snapshot

NETS = Path(__file__).resolve().parents[1] / "gradcheck" / "cs231n_nets.py"
DOCTOR = ["--input-shape", "1,8,8", "--samples", "6", "--term", "weight=reg", "--term", "activity=act_reg"]
PLAIN = ["--input-shape", "1,8,8", "--samples", "6"]


@pytest.fixture
def model_run(tmp_path, data_dir, capsys):
    """A finished one-epoch ``--model`` run in ``tmp_path/out/r``."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "my_net.py").write_text(MODEL)
    argv = ["train", *TINY, "--data-dir", data_dir, "--out-dir", tmp_path / "out", "--name", "r", "--model",
            f"{tmp_path / 'src' / 'my_net.py'}:small"]
    assert main(list(map(str, argv))) == 0, capsys.readouterr().err
    capsys.readouterr()
    return tmp_path / "out" / "r"


# ------------------------------------------------------------------------------------------ 1
def test_1_evaluate_never_imports_a_file_a_checkpoint_names(tmp_path, model_run):
    marker = tmp_path / "evil-ran"
    evil = tmp_path / "evil" / "evil.py"
    evil.parent.mkdir()
    evil.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n" + MODEL)
    source = {"origin": "x.py:small", "file": str(evil), "function": "small", "sha256": sha256(evil)}
    last = model_run / "checkpoints" / "last.npz"
    cases = {
        # a lone checkpoint naming an absolute path outside any run
        "lone": (rewrite_checkpoint(last, tmp_path / "lone" / "c.npz", meta={"model_source": source}),
                 "its meta field 'model_source.file' must be 'model.py'"),
        # a lone checkpoint naming model.py, with a planted model.py where a run's would be
        "beside": (rewrite_checkpoint(last, tmp_path / "beside" / "c.npz", meta={"model_source": {
            **source, "file": "model.py"}}), "its network is built only from its run's own model.py"),
        # the run's own checkpoint, edited to name the file
        "in-run": (rewrite_checkpoint(last, model_run / "checkpoints" / "edited.npz", meta={"model_source": source}),
                   "its meta field 'model_source.file' must be 'model.py'"),
    }
    for where in (tmp_path, tmp_path / "beside"):
        (where / "model.py").write_text(evil.read_text())
    run_files = snapshot(model_run)
    outside = snapshot(tmp_path, skip=[tmp_path / "out"])
    for name, (ckpt, message) in cases.items():
        result = handgrad(["evaluate", ckpt], tmp_path / "home")
        assert result.returncode == 1, (name, result.stderr)
        line = one_line_error(result.stderr)
        assert line.startswith("handgrad evaluate: error: checkpoint ") and message in line, (name, line)
        assert not marker.exists(), name
    assert snapshot(tmp_path, skip=[tmp_path / "out"]) == outside
    assert snapshot(model_run) == run_files  # the run lost nothing, and still evaluates from its own copy
    assert handgrad(["evaluate", last], tmp_path / "home").returncode == 0 and not marker.exists()


# ------------------------------------------------------------------------------------------ 2
def test_2_a_planted_lock_link_is_never_followed(tmp_path, data_dir, capsys):
    victim = tmp_path / "outside" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    out = tmp_path / "out"
    common = ["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(out)]
    # a new run into a directory holding a planted .lock link
    (out / "new").mkdir(parents=True)
    (out / "new" / ".lock").symlink_to(victim)
    outside = snapshot(tmp_path, skip=[out])
    assert main([*common, "--name", "new"]) == 1
    assert one_line_error(capsys.readouterr().err) == (
        f"handgrad train: error: {out / 'new' / '.lock'} is a symbolic link, not a regular file: refusing to follow it")
    # --resume of a finished run whose .lock was replaced by a link
    assert main([*common, "--name", "old"]) == 0
    (out / "old" / ".lock").unlink()
    (out / "old" / ".lock").symlink_to(victim)
    run_files = snapshot(out / "old")
    capsys.readouterr()
    assert main(["train", "--resume", str(out / "old"), "--epochs", "2", "--no-progress"]) == 1
    assert one_line_error(capsys.readouterr().err) == (
        f"handgrad train: error: {out / 'old' / '.lock'} is a symbolic link, not a regular file: refusing to follow it")
    assert victim.read_text() == "precious\n" and snapshot(tmp_path, skip=[out]) == outside
    assert snapshot(out / "old") == run_files


@pytest.mark.parametrize("planted", ["checkpoints", "history.json", "checkpoints/last.npz", "config.json"])
def test_2_no_link_in_a_run_directory_is_written_through(tmp_path, data_dir, planted, capsys):
    out = tmp_path / "out"
    assert main(["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(out), "--name", "r"]) == 0
    target = tmp_path / "outside" / Path(planted).name
    target.parent.mkdir()
    path = out / "r" / planted
    if path.is_dir():
        path.rename(target)
    else:
        target.write_bytes(path.read_bytes())
        path.unlink()
    path.symlink_to(target)
    outside, run_files = snapshot(tmp_path, skip=[out]), snapshot(out / "r")
    capsys.readouterr()
    assert main(["train", "--resume", str(out / "r"), "--epochs", "2", "--no-progress"]) == 1
    line = one_line_error(capsys.readouterr().err)
    what = "not a directory" if planted == "checkpoints" else "not a regular file"
    assert line.startswith(f"handgrad train: error: {path} is a symbolic link, {what}"), line
    assert snapshot(tmp_path, skip=[out]) == outside and snapshot(out / "r") == run_files


def test_2_a_lock_that_is_a_fifo_is_refused(tmp_path, data_dir, capsys):
    (tmp_path / "out" / "r").mkdir(parents=True)
    os.mkfifo(tmp_path / "out" / "r" / ".lock")
    assert main(["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path / "out"), "--name", "r"]) == 1
    assert one_line_error(capsys.readouterr().err) == (f"handgrad train: error: {tmp_path / 'out' / 'r' / '.lock'} is "
                                                       "a FIFO, not a regular file: refusing to use it")


# ------------------------------------------------------------------------------------------ 3
EXITING_MODEL = textwrap.dedent("""
    import sys
    import numpy as np

    class Net:
        def __init__(self):
            self.params = {"W": np.ones((64, 3))}

        def loss(self, X, y=None):
            sys.exit(0)

    def make():
        return Net()
""")


def test_3_sys_exit_in_a_gradcheck_loss_is_a_failure(tmp_path):
    file = tmp_path / "exiting.py"
    file.write_text(EXITING_MODEL)
    result = handgrad(["gradcheck", "--user-model", f"{file}:make", *PLAIN], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    first, *rest = result.stderr.strip().splitlines()
    assert first.startswith("handgrad gradcheck: error: Net.loss") and "Traceback" not in result.stderr
    assert first.endswith(f"called sys.exit(0) instead of returning (at {file}:10)"), first
    assert rest == ["handgrad gradcheck: (--verbose shows the traceback)"]
    assert "PASS" not in result.stdout


def test_3_keyboard_interrupt_raised_by_user_code_is_its_error_not_ctrl_c(tmp_path):
    file = tmp_path / "interrupting.py"
    file.write_text(EXITING_MODEL.replace("sys.exit(0)", "raise KeyboardInterrupt"))
    result = handgrad(["gradcheck", "--user-model", f"{file}:make", *PLAIN], tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].endswith(f"raised KeyboardInterrupt (at {file}:10)"), result.stderr


def test_3_sys_exit_in_a_model_function_does_not_train(tmp_path, data_dir):
    file = tmp_path / "net.py"
    file.write_text("import sys\n\ndef net(input_shape, num_classes):\n    sys.exit(0)\n")
    result = handgrad(["train", *TINY, "--data-dir", data_dir, "--out-dir", tmp_path / "out", "--name", "r",
                       "--model", f"{file}:net"], tmp_path / "home")
    assert result.returncode == 1
    assert one_line_error(result.stderr) == (f"handgrad train: error: --model {file}:net called sys.exit(0) instead "
                                             f"of returning (at {file}:4)")
    assert "epoch" not in result.stdout and list((tmp_path / "out").iterdir()) == []


def test_3_a_real_ctrl_c_during_user_code_is_still_an_interrupt(tmp_path, data_dir):
    ready, block = tmp_path / "ready", tmp_path / "block"
    os.mkfifo(ready)
    os.mkfifo(block)
    file = tmp_path / "net.py"
    file.write_text(f"def net(input_shape, num_classes):\n    open({str(ready)!r}, 'w').close()\n"
                    f"    open({str(block)!r}).read()\n")
    argv = ["train", *TINY, "--data-dir", data_dir, "--out-dir", tmp_path / "out", "--name", "r",
            "--model", f"{file}:net"]
    # SIGINT at its default in the child, as in a terminal: a shell's background job (`make test &`, nohup) inherits
    # it ignored, and a process that ignores Ctrl-C cannot be interrupted by it (nor can this test then pass).
    proc = subprocess.Popen([sys.executable, "-m", "handgrad", *map(str, argv)], env=process_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        with open(ready):  # returns once the user's function has opened it: it runs now, blocked on `block`
            pass
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("handgrad train: interrupted")


# ------------------------------------------------------------------------------------------ 15
def test_15_json_never_replaces_a_link_fifo_or_directory(tmp_path):
    kept = tmp_path / "outside" / "kept.json"
    kept.parent.mkdir()
    kept.write_text("keep\n")
    (tmp_path / "link.json").symlink_to(kept)
    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "dir.json").mkdir()
    before = snapshot(tmp_path)
    for name, what in (("link.json", "a symbolic link"), ("pipe.json", "a FIFO"), ("dir.json", "a directory")):
        result = handgrad(["gradcheck", "--user-model", f"{NETS}:correct", *DOCTOR, "--json", tmp_path / name],
                          tmp_path / "home")
        assert result.returncode == 1, result.stderr
        assert one_line_error(result.stderr) == (f"handgrad gradcheck: error: --json: {tmp_path / name} is {what}, "
                                                 "not a regular file: refusing to replace it")
    assert snapshot(tmp_path, skip=[tmp_path / "home"]) == {k: v for k, v in before.items() if not k.startswith("home")}


def test_15_json_to_dev_stdout_is_refused_not_replaced(tmp_path):
    # Without root's permission override (so that a regression cannot replace the machine's /dev/stdout): the
    # refusal must come from handgrad, not from a permission error.
    result = handgrad(["gradcheck", "--user-model", f"{NETS}:correct", *DOCTOR, "--json", "/dev/stdout"],
                      tmp_path, unprivileged=True)
    assert result.returncode == 1, result.stderr
    kind = "a symbolic link" if Path("/dev/stdout").is_symlink() else "a character device"
    assert one_line_error(result.stderr) == (f"handgrad gradcheck: error: --json: /dev/stdout is {kind}, not a "
                                             "regular file: refusing to replace it")
    assert Path("/dev/stdout").is_symlink() or Path("/dev/stdout").is_char_device()


def test_15_plot_never_writes_through_a_link(tmp_path, data_dir, capsys):
    out = tmp_path / "out"
    assert main(["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(out), "--name", "r"]) == 0
    kept = tmp_path / "outside.png"
    kept.write_bytes(b"keep")
    (out / "r" / "plots").mkdir()
    (out / "r" / "plots" / "losses.png").symlink_to(kept)
    capsys.readouterr()
    assert main(["plot", str(out / "r")]) == 1
    assert one_line_error(capsys.readouterr().err) == (f"handgrad plot: error: {out / 'r' / 'plots' / 'losses.png'} "
                                                       "is a symbolic link, not a regular file: refusing to replace it")
    assert kept.read_bytes() == b"keep"
