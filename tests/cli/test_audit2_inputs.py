"""Second audit, resource exhaustion (11, 12), user code that fails (13) and hand-edited run files (14): each is
refused in one line naming the file (and field, or the user's file:line), exit 1, before any large allocation;
nothing outside --out-dir changes and nothing of the run is lost. Real files in their real formats."""
import io
import json
import zipfile

import numpy as np
import pytest

from handgrad.cli import main
from tests.cli.audit import MODEL, TINY, one_line_error, rewrite_checkpoint, snapshot

WRITTEN_BY = "was it written by 'handgrad train'?"


@pytest.fixture
def run(tmp_path, data_dir, capsys):
    """A finished one-epoch run of the reference network in ``tmp_path/out/r``."""
    argv = ["train", *TINY, "--data-dir", str(data_dir), "--out-dir", str(tmp_path / "out"), "--name", "r"]
    assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    return tmp_path / "out" / "r"


def refused(argv, expected: str, capsys, roots) -> None:
    """``main(argv)`` exits 1 with exactly ``expected`` (after ``handgrad CMD: error: ``), nothing under
    ``roots`` changed (less HOME, where matplotlib keeps its font cache)."""
    before = [snapshot(r, skip=[r / "home"]) for r in roots]
    assert main(list(map(str, argv))) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line.split(": error: ", 1)[1] == expected, line
    assert [snapshot(r, skip=[r / "home"]) for r in roots] == before


# ------------------------------------------------------------------------------------------ 11
def forged_npz(src, dst, key: str, shape) -> None:
    """``src`` with member ``key`` replaced by a .npy whose header declares ``shape`` over a few bytes of data."""
    with zipfile.ZipFile(src) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    members[f"{key}.npy"] = header.getvalue() + b"\0" * 64  # the header starts with the .npy magic
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_11_an_npz_header_declaring_2_to_the_60_elements(tmp_path, run, capsys):
    forged = tmp_path / "forged" / "c.npz"
    forged.parent.mkdir()
    forged_npz(run / "checkpoints" / "last.npz", forged, "param/conv2d.W", (2**60,))
    refused(["evaluate", forged], f"checkpoint {forged} is not a handgrad checkpoint or is damaged: array "
            f"'param/conv2d.W' declares shape ({2**60},) of float32 ({4 * 2**60:,} bytes) but holds 64 bytes", capsys,
            [tmp_path])
    # the same in a run's last.npz, on --resume
    forged_npz(forged, run / "checkpoints" / "last.npz", "param/conv2d.W", (2**60,))
    last = run / "checkpoints" / "last.npz"
    refused(["train", "--resume", run, "--epochs", "2", "--no-progress"], f"checkpoint {last} is not a handgrad "
            f"checkpoint or is damaged: array 'param/conv2d.W' declares shape ({2**60},) of float32 "
            f"({4 * 2**60:,} bytes) but holds 64 bytes", capsys, [tmp_path])


def test_11_an_input_shape_of_2_to_the_40_pixels(tmp_path, run, capsys):
    ckpt = rewrite_checkpoint(run / "checkpoints" / "last.npz", run / "checkpoints" / "big.npz",
                              meta={"input_shape": [1, 2**20, 2**20]})
    refused(["evaluate", ckpt], f"checkpoint {ckpt}: its meta field 'input_shape' must be [1, 28, 28], the shape of "
            f"fashion-mnist's images, got [1, {2**20}, {2**20}]", capsys, [tmp_path])


# ------------------------------------------------------------------------------------------ 12
def test_12_a_grid_of_10_to_the_12_points_is_counted_not_built(tmp_path, isolated_data, capsys):
    values = {"lr": [1e-4 * (1 + i / 1000) for i in range(1000)],
              "weight_l2": [1e-6 * (1 + i) for i in range(1000)],
              "activity_l2": [1e-8 * (1 + i) for i in range(1000)],
              "dropout": [i / 2000 for i in range(1000)]}
    space = tmp_path / "grid.toml"
    space.write_text("[grid]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    refused(["tune", "--study", "s", "--space", space, "--trials", "1", "--out-dir", tmp_path / "out"],
            f"{space}: [grid] has 1,000,000,000,000 combinations (1000 x 1000 x 1000 x 1000), more than the 100,000 a "
            "study can run; use [search.FIELD] ranges instead", capsys, [tmp_path])
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------ 13
USER_CODE = {
    "raises": ("def net(input_shape, num_classes):\n    raise RuntimeError('layer sizes TBD')\n",
               "--model {file}:net raised RuntimeError: layer sizes TBD (at {file}:2)"),
    "syntax": ("def net(input_shape, num_classes):\n    return (\n",
               "--model: syntax error in {file}, line 2: '(' was never closed"),
    "sibling": ("import helpers_4711\n\ndef net(input_shape, num_classes):\n    return helpers_4711.net()\n",
                "--model: importing {file} raised ModuleNotFoundError: No module named 'helpers_4711' (at {file}:1); "
                "a --model file may import handgrad and installed packages, not files beside it (the run keeps only "
                "its copy model.py)"),
    "no-args": ("def net():\n    pass\n",
                "--model {file}:net raised TypeError: net() takes 0 positional arguments but 2 were given (at "
                "{file}:1)"),
}


@pytest.mark.parametrize("case", sorted(USER_CODE))
def test_13_a_model_function_that_fails_is_one_line_naming_its_file_and_line(case, tmp_path, data_dir, capsys):
    text, message = USER_CODE[case]
    (tmp_path / "src").mkdir()
    file = tmp_path / "src" / "my_net.py"
    file.write_text(text)
    (tmp_path / "src" / "helpers_4711.py").write_text(MODEL.replace("def small(", "def net(input_shape=(1, 28, 28), "
                                                                    "num_classes=10, *_): return small(input_shape, "
                                                                    "num_classes)\ndef small("))
    out = tmp_path / "out"
    refused(["train", *TINY, "--data-dir", data_dir, "--out-dir", out, "--name", "r", "--model", f"{file}:net"],
            message.format(file=file), capsys, [tmp_path / "src", data_dir])
    assert not out.exists() or list(out.iterdir()) == []  # no half-made run left to be refused later


# ------------------------------------------------------------------------------------------ 14
def test_14_checkpoint_meta_edited_by_hand_on_resume(tmp_path, run, capsys):
    last = run / "checkpoints" / "last.npz"
    original = last.read_bytes()
    resume = ["train", "--resume", run, "--epochs", "2", "--no-progress"]
    rewrite_checkpoint(last, last, meta={"epoch": None})
    refused(resume, f"checkpoint {last}: its meta lacks the field 'epoch'; {WRITTEN_BY}", capsys, [tmp_path])
    last.write_bytes(original)
    rewrite_checkpoint(last, last, meta={"best_val_loss": "abc"})
    refused(resume, f"checkpoint {last}: its meta field 'best_val_loss' must be a finite number >= 0 or null, got "
            "'abc'", capsys, [tmp_path])
    last.write_bytes(original)
    assert main(list(map(str, resume))) == 0  # restored: nothing of the run was lost


def test_14_class_names_that_are_not_strings(tmp_path, run, capsys):
    ckpt = rewrite_checkpoint(run / "checkpoints" / "last.npz", tmp_path / "runs2" / "checkpoints" / "c.npz",
                              meta={"class_names": list(range(10))})
    refused(["evaluate", ckpt], f"checkpoint {ckpt}: its meta field 'class_names' must be a list of 2 to 100,000 "
            "strings, got [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]", capsys, [tmp_path])


def test_14_history_with_a_null_monitor_for_plot(tmp_path, run, capsys):
    rows = json.loads((run / "history.json").read_text())
    rows[0]["monitor"] = None
    (run / "history.json").write_text(json.dumps(rows))
    refused(["plot", run], f"{run / 'history.json'} row 0 (epoch 1): 'monitor' must be a dict of monitor values, got "
            "None", capsys, [tmp_path])
    assert not (run / "plots").exists()


@pytest.mark.parametrize("content,reason", [
    (None, "it is a single .npy array, not a .npz archive of arrays"),
    (b"", "the file is empty (0 bytes)"),
    (b"PK\x03\x04 not really a zip", "not a .npz (zip) archive (File is not a zip file)"),
])
def test_14_evaluate_of_an_npy_an_empty_or_a_broken_file(tmp_path, content, reason, capsys):
    path = tmp_path / "c.npz"
    if content is None:
        np.save(tmp_path / "c.npy", np.zeros(3))
        (tmp_path / "c.npy").rename(path)
    else:
        path.write_bytes(content)
    refused(["evaluate", path], f"checkpoint {path} is not a handgrad checkpoint or is damaged: {reason}", capsys,
            [tmp_path])


@pytest.mark.parametrize("text,problem", [
    ('{"lr": oops}', "not valid JSON (Expecting value: line 1 column 8 (char 7))"),
    ('[1, 2]', None),
    ('{"lr": "fast"}', None),
])
def test_14_config_json_edited_into_something_else(tmp_path, run, text, problem, capsys):
    (run / "config.json").write_text(text)
    path = run / "config.json"
    before = snapshot(tmp_path)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 1  # 1: a damaged file, not a bad flag (2)
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"handgrad train: error: {path}"), line
    if problem:
        assert line == f"handgrad train: error: {path} is not a config.json written by handgrad: {problem}"
    assert snapshot(tmp_path) == before
