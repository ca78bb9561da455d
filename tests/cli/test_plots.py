"""``handgrad plot`` / ``compare``: files written, valid PNGs, the right number of panels."""
import numpy as np
import pytest

from handgrad import plots
from handgrad.cli import main
from handgrad.training import History, Trainer
from tests.training.synthetic import make_data, make_model, make_optimizer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    dirs = []
    for i, activity in enumerate((1e-3, 1e-1)):
        run_dir = tmp_path_factory.mktemp(f"run{i}")
        x, y = make_data()
        Trainer(make_model(activity_l2=activity), make_optimizer(), batch_size=32, run_dir=run_dir, progress=False,
                echo=lambda m: None).fit(x, y, (x[:60], y[:60]), epochs=3)
        dirs.append(run_dir)
    return dirs


def test_plot_writes_every_figure(run_dirs, capsys):
    assert main(["plot", str(run_dirs[0])]) == 0
    out = capsys.readouterr().out
    for name in ("losses", "accuracy", "activations", "penalty_share"):
        path = run_dirs[0] / "plots" / f"{name}.png"
        assert f"{name}: {path}" in out
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_panel_counts(run_dirs):
    history = History.load(run_dirs[0])
    monitored = plots.monitored(history)
    assert monitored == ["conv2d", "dense", "dense_1"]  # every Conv2D/Dense output, the penalized one included
    assert len(plots.losses_figure(history).axes) == 4  # total, data, weight, activity
    assert len(plots.accuracy_figure(history).axes) == 1
    assert len(plots.activations_figure(history).axes) == 3
    assert len(plots.penalty_share_figure(history).axes) == 1
    lines = plots.penalty_share_figure(history).axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["weight penalty", "conv2d activity penalty"]
    np.testing.assert_allclose(lines[1].get_ydata(), history.column("monitor/conv2d/penalty_share"))


def test_compare_overlays_runs(run_dirs, tmp_path, capsys):
    out = tmp_path / "cmp.png"
    assert main(["compare", *map(str, run_dirs), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG_MAGIC)
    fig = plots.compare_figure({d.name: History.load(d) for d in run_dirs})
    assert len(fig.axes) == 3 and all(len(ax.get_lines()) == 2 for ax in fig.axes)


def test_plot_of_a_directory_without_history(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 1
    assert "has no history.json" in capsys.readouterr().err
