"""The experiment behind docs/activity-regularization.md: activity regularization done right and wrong.

On Fashion-MNIST with the reference network, train the same recipe (SGD with Nesterov momentum, cosine
schedule, no dropout, so that the penalties are the only regularizers) with:

- no penalty;
- an L2 weight penalty on every kernel;
- the weight penalty plus an L2 activity penalty on both conv outputs, at several strengths, before ELU
  ("pre") and after ELU ("post");
- the weight penalty plus the activity penalty with the *typical incomplete gradient*: each conv layer adds
  ``conv_backward(2 * l2 * a).dW`` to its own ``dW`` and nothing else (no bias term, nothing for the layers
  below, no division by the batch size). ``examples/typical_mistake.py`` holds the same mistake as plain
  NumPy code that ``handgrad gradcheck --user-module`` flags; ``tests/examples`` proves the two equal.

For each run: test accuracy, sparsity of the conv outputs (fraction with |a| < 0.01) and the activity
penalty's share of the training loss. Writes a JSON file, two figures, and the results section of the guide
(between its ``<!-- results:start -->`` and ``<!-- results:end -->`` markers).

    python examples/activity_regularization.py               # the guide's numbers (10 runs of 6 epochs)
    python examples/activity_regularization.py --epochs 2    # a quicker look
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handgrad import datasets
from handgrad._atomic import atomic_write_text
from handgrad.config import TrainConfig
from handgrad.layers import Conv2D
from handgrad.losses import softmax_cross_entropy
from handgrad.sequential import LossTerms, _sum_penalties
from handgrad.training import Trainer, evaluate
from handgrad.training.run import build_optimizer

ROOT = Path(__file__).resolve().parents[1]
WEIGHT_L2 = 2.5e-4  # the classic weight decay 5e-4 of SGD recipes, in Keras's convention (wd / 2)


@dataclass
class Variant:
    name: str
    activity_l2: float = 0.0
    activity_on: str = "pre"
    weight_l2: float = WEIGHT_L2
    incomplete: bool = False
    overrides: dict = field(default_factory=dict)


def variants(strengths=(1e-6, 1e-5, 1e-4)) -> list[Variant]:
    out = [Variant("no penalty", weight_l2=0.0), Variant("weight L2")]
    out += [Variant(f"+ activity L2 {s:g} pre", s, "pre") for s in strengths]
    out += [Variant(f"+ activity L2 {s:g} post", s, "post") for s in strengths]
    out += [Variant(f"+ activity L2 {s:g} pre, incomplete gradient", s, "pre", incomplete=True)
            for s in strengths[1:3]]
    return out


def incomplete_forward_backward(self, x, y, training=True, terms=None):
    """``Sequential.forward_backward`` with the typical mistake in the activity penalty's gradient.

    The loss is right; the data and weight gradients are right; the activity penalty of each Conv2D adds only
    ``conv_backward(R'(a)).dW`` to that layer's ``dW``, with ``R'(a) = 2 * l2 * a`` summed over the batch.
    """
    logits = self.forward(x, training)
    data, dlogits = softmax_cross_entropy(logits, y)
    by_layer = self.penalties_by_layer()
    result = LossTerms(data, *_sum_penalties(by_layer), by_layer)
    self.backward(dlogits, activity_penalty=False)
    for layer in self.layers:
        if isinstance(layer, Conv2D) and layer.name in self._outputs:
            own = {k: g.copy() for k, g in layer.grads.items()}
            layer.backward(layer.activity_regularizer.grad(self._outputs[layer.name]), input_grad=False,
                           check_finite=False)  # inside the training loop: its NaN guard reports divergence
            layer.grads = {"W": own["W"] + layer.grads["W"], **({"b": own["b"]} if "b" in own else {})}
    return result, logits


def make_incomplete(model):
    model.forward_backward = types.MethodType(incomplete_forward_backward, model)
    return model


def run_variant(variant: Variant, data, epochs: int, out_dir: Path, seed: int, progress: bool) -> dict:
    config = TrainConfig(optimizer="nesterov", lr=0.05, momentum=0.9, weight_decay=0.0, schedule="cosine",
                         warmup_epochs=0.5, dropout=0.0, epochs=epochs, batch_size=64, seed=seed,
                         weight_l2=variant.weight_l2, activity_l2=variant.activity_l2,
                         activity_on=variant.activity_on, **variant.overrides)
    model = config.build_model(data.x_train.shape[1:], num_classes=len(data.class_names))
    if variant.incomplete:
        make_incomplete(model)
    steps = -(-len(data.x_train) // config.batch_size)
    run_dir = out_dir / re.sub(r"[^a-z0-9.]+", "-", variant.name.lower()).strip("-")
    trainer = Trainer(model, build_optimizer(config, steps, model), batch_size=config.batch_size, seed=seed,
                      run_dir=run_dir, progress=progress, meta={"config": config.to_dict(), "variant": variant.name},
                      echo=lambda m: print(f"  [{variant.name}] {m}", flush=True))
    start = time.perf_counter()
    status = "ok"
    with np.errstate(over="ignore", invalid="ignore"):  # a run that diverges stops at the trainer's NaN guard
        try:
            trainer.fit(data.x_train, data.y_train, (data.x_val, data.y_val), epochs=epochs)
        except Exception as e:  # a diverged run is a result too
            status = f"diverged: {e}"
        test = evaluate(model, data.x_test, data.y_test)
    last = trainer.history.rows[-1] if trainer.history.rows else {}
    monitor = last.get("monitor", {})
    convs = [layer.name for layer in model.layers if isinstance(layer, Conv2D)]
    return {"variant": variant.name, "activity_l2": variant.activity_l2, "activity_on": variant.activity_on,
            "weight_l2": variant.weight_l2, "incomplete": variant.incomplete, "status": status,
            "epochs": trainer.epoch, "test_accuracy": test["accuracy"] if np.isfinite(test["data"]) else float("nan"),
            "test_data_loss": test["data"],
            "sparsity": {n: monitor.get(n, {}).get("near_zero") for n in convs},
            "mean_abs": {n: monitor.get(n, {}).get("mean_abs") for n in convs},
            "activity_share": monitor.get("activity_penalty_share"),
            "weight_share": monitor.get("weight_penalty_share"),
            "val_accuracy": [r.get("val", {}).get("accuracy") for r in trainer.history.rows],
            "seconds": time.perf_counter() - start, "run_dir": str(run_dir)}


def fmt(v, pattern):
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, pattern)


def results_table(results) -> str:
    rows = ["| run | test accuracy | conv outputs near zero (conv2d / conv2d_1) | activity penalty share of the loss | "
            "weight penalty share |", "|---|---|---|---|---|"]
    for r in results:
        s = r["sparsity"]
        sparsity = " / ".join(fmt(v, ".1%") for v in s.values())
        accuracy = fmt(r["test_accuracy"], ".2%")
        if r["status"] != "ok":
            where = re.search(r"at epoch (\d+), step (\d+)", r["status"])
            accuracy = f"diverged: NaN loss at step {where[2]} of epoch {where[1]}" if where else "diverged"
        rows.append(f"| {r['variant']} | {accuracy} | {sparsity} | "
                    f"{fmt(r['activity_share'], '.1%')} | {fmt(r['weight_share'], '.1%')} |")
    return "\n".join(rows)


def write_figures(results, fig_dir: Path) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from handgrad.plots import save

    fig = Figure(figsize=(9, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for r in results:
        style = "--" if r["activity_on"] == "post" else (":" if r["incomplete"] else "-")
        ax.plot(range(1, len(r["val_accuracy"]) + 1), r["val_accuracy"], style, label=r["variant"])
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Fashion-MNIST, reference network")
    ax.legend(fontsize="x-small", ncol=2)
    paths = [save(fig, fig_dir / "activity_accuracy.png")]

    fig = Figure(figsize=(9, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for on, marker in (("pre", "o"), ("post", "s")):
        chosen = [r for r in results if r["activity_l2"] and r["activity_on"] == on and not r["incomplete"]]
        xs = [r["activity_l2"] for r in chosen]
        ax1.semilogx(xs, [r["test_accuracy"] for r in chosen], marker=marker, label=on)
        ax2.semilogx(xs, [r["activity_share"] for r in chosen], marker=marker, label=on)
    ax1.set_xlabel("activity L2 coefficient")
    ax1.set_ylabel("test accuracy")
    ax2.set_xlabel("activity L2 coefficient")
    ax2.set_ylabel("activity penalty / total loss")
    for ax in (ax1, ax2):
        ax.legend()
    paths.append(save(fig, fig_dir / "activity_strength.png"))
    return paths


def update_guide(doc: Path, section: str) -> None:
    text = doc.read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{doc} lacks the {start} / {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{start}\n{section}\n{end}{tail}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--train-size", type=int, default=None, help="use only this many training images")
    p.add_argument("--validation-size", type=int, default=5000)
    p.add_argument("--out-dir", default=str(ROOT / "runs" / "activity-guide"))
    p.add_argument("--doc", default=str(ROOT / "docs" / "activity-regularization.md"),
                   help="guide whose results section is rewritten ('' to skip)")
    p.add_argument("--figures", default=str(ROOT / "docs" / "figures"))
    p.add_argument("--strengths", type=float, nargs="+", default=[1e-6, 1e-5, 1e-4])
    p.add_argument("--only", nargs="*", default=None, help="run only variants whose name contains one of these")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    data = datasets.prepare("fashion-mnist", validation_size=args.validation_size, seed=args.seed,
                            data_dir=args.data_dir)
    if args.train_size:
        data.x_train, data.y_train = data.x_train[: args.train_size], data.y_train[: args.train_size]
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = [v for v in variants(tuple(args.strengths)) if not args.only or any(o in v.name for o in args.only)]
    results = []
    for v in chosen:
        print(f"== {v.name}", flush=True)
        results.append(run_variant(v, data, args.epochs, out_dir, args.seed, not args.no_progress))
        print(f"   test accuracy {fmt(results[-1]['test_accuracy'], '.2%')}  ({results[-1]['seconds']:.0f} s)",
              flush=True)
        atomic_write_text(out_dir / "results.json", json.dumps(results, indent=1))  # after each run
    table = results_table(results)
    print(table)
    figures = write_figures(results, Path(args.figures))
    if args.doc:
        command = "python examples/activity_regularization.py" + "".join(
            f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
        section = (f"Produced by `{command}` ({args.epochs} epochs, {len(data.x_train):,} training images, "
                   f"seed {args.seed}, weight L2 {WEIGHT_L2:g} where used):\n\n{table}\n\n"
                   + "\n".join(f"![{p.stem}](figures/{p.name})" for p in figures))
        update_guide(Path(args.doc), section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
