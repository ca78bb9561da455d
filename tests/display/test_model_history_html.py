"""``_repr_html_`` of ``Sequential`` (its summary) and ``History`` (last epochs, a small plot); the figures of
``handgrad.plots`` as inline PNGs that can still be saved. Text forms unchanged."""
import base64

import numpy as np

import handgrad as hg
from handgrad import plots
from handgrad.display import InlineFigure
from handgrad.display.history_html import LAST
from handgrad.training import History, Trainer
from tests.display.html_tools import find_all, html_errors, parse, text_of
from tests.training.synthetic import make_data, make_model, make_optimizer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_sequential_html_lists_every_layer_as_its_summary_does():
    model = hg.models.reference_cnn(weight_l2=1e-4, activity_l2=1e-5)
    html = model._repr_html_()
    assert html_errors(html) == []
    root = parse(html)
    rows = find_all(root, "tr", "hg-layer")
    assert len(rows) == len(model.layers)
    for layer, tr in zip(model.layers, rows):
        cells = [text_of(c) for c in tr]
        assert cells[0].startswith(f"{layer.name} (") and cells[2] == f"{layer.param_count():,}"
        assert cells[0] in model.summary() and cells[3] in model.summary()
    assert f"Total params: {model.param_count():,}" in text_of(root)
    assert model.summary().splitlines()[0].startswith("Layer (type)")  # the text form as it was


def history_rows(epochs):
    return [{"epoch": e, "lr": 1e-3, "train": {"total": 1.0 / e, "data": 0.9 / e, "accuracy": 0.5 + e / 100},
             "val": {"data": 1.1 / e, "accuracy": 0.45 + e / 100}} for e in range(1, epochs + 1)]


def test_history_html_shows_the_last_epochs_and_a_plot():
    history = History(history_rows(LAST + 3))
    html = history._repr_html_()
    assert html_errors(html) == []
    root = parse(html)
    epochs = [tr.get("data-epoch") for tr in find_all(root, "tr", "hg-epoch")]
    assert epochs == [str(e) for e in range(4, LAST + 4)]
    last = find_all(root, "tr", "hg-epoch")[-1]
    assert "58.00%" in text_of(last) and "53.00%" in text_of(last)  # train and validation accuracy of epoch 8
    (img,) = list(root.iter("img"))
    raw = base64.b64decode(img.get("src").split(",", 1)[1])
    assert raw.startswith(PNG_MAGIC)


def test_history_html_of_one_epoch_and_of_none():
    root = parse(History(history_rows(1))._repr_html_())
    assert len(find_all(root, "tr", "hg-epoch")) == 1 and not list(root.iter("img"))
    assert "no epochs" in text_of(parse(History()._repr_html_()))


def test_plots_return_inline_figures_that_save(tmp_path):
    x, y = make_data()
    trainer = Trainer(make_model(activity_l2=1e-3), make_optimizer(), batch_size=32, progress=False,
                      echo=lambda m: None)
    history = trainer.fit(x, y, (x[:60], y[:60]), epochs=2)
    for make in plots.FIGURES.values():
        fig = make(history)
        assert isinstance(fig, InlineFigure)
        png = fig._repr_png_()
        assert png.startswith(PNG_MAGIC) and len(png) > 5000
        path = plots.save(fig, tmp_path / "f.png")
        assert path.read_bytes().startswith(PNG_MAGIC)
    html = history._repr_html_()
    assert html_errors(html) == [] and len(find_all(parse(html), "tr", "hg-epoch")) == 2
    assert np.isfinite(history.column("train/total")).all()
