"""``handgrad export CHECKPOINT --onnx OUT.onnx``: a trained run's network as an ONNX file.

The network is rebuilt from the checkpoint and its run directory exactly as ``handgrad evaluate`` does
(``cli.evaluate.build_model``: the reference network from the saved config, or a ``--model`` run's own
``model.py``), written by ``handgrad.export.to_onnx`` (checked, atomic) and, when onnxruntime is installed, run
on random inputs to print how close its logits are to handgrad's. The file's metadata holds the class names
and the input normalization of the run: the graph takes images normalized as in training,
``(x - mean) / std``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

VERIFY_BATCH = 8  # random inputs the written file is checked on


def register(subparsers):
    p = subparsers.add_parser("export", help="export a checkpoint's network to ONNX",
                              description="Write the inference graph of a checkpoint written by 'handgrad train' "
                                          "as an ONNX file (dynamic batch axis; output 'logits').")
    p.add_argument("checkpoint", help="a checkpoint file (runs/<name>/checkpoints/last.npz or best.npz)")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument("--probabilities", action="store_true",
                   help="add a second output 'probabilities' = softmax(logits)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default: 17)")
    p.set_defaults(run=run)


def run(args) -> int:
    from handgrad.cli.evaluate import build_model
    from handgrad.errors import MissingExtraError
    from handgrad.export import onnx_export
    from handgrad.training import load_checkpoint

    out = Path(args.onnx)
    if out.is_dir():
        raise ValueError(f"--onnx {out} is a directory; give the file to write, e.g. {out}/model.onnx")
    ckpt = load_checkpoint(args.checkpoint)
    config, model = build_model(args.checkpoint, ckpt)
    meta = ckpt.meta
    metadata = {"class_names": json.dumps(meta["class_names"]), "normalization": json.dumps(meta["normalization"]),
                "checkpoint": str(args.checkpoint), "epoch": str(ckpt.epoch)}
    try:
        onnx_export.to_onnx(model, out, args.opset, probabilities=args.probabilities, metadata=metadata)
    except MissingExtraError as e:
        print(f"handgrad export: error: {e}", file=sys.stderr)
        return 1
    outputs = "'logits'" + (" and 'probabilities'" if args.probabilities else "")
    print(f"wrote {out}: opset {args.opset}, input 'input' (batch, {', '.join(map(str, model.input_shape))}), "
          f"output {outputs} (batch, {model.num_classes}); inputs normalized as in training: (x - mean) / std with "
          f"mean {meta['normalization']['mean']}, std {meta['normalization']['std']}")
    print(verify(model, out))
    return 0


def verify(model, path) -> str:
    """One line: the largest difference between onnxruntime's logits and handgrad's on random inputs."""
    from handgrad.errors import MissingExtraError
    from handgrad.export import onnx_export

    x = np.random.default_rng(0).standard_normal((VERIFY_BATCH, *model.input_shape)).astype(np.float32)
    try:
        logits = onnx_export.run_onnx(path, x)["logits"]
    except MissingExtraError:
        return "not verified: onnxruntime is not installed (pip install 'handgrad[onnx]')"
    ref = model.forward(x.astype(model.dtype), training=False)
    error = float(np.abs(logits - ref).max() / max(np.abs(ref).max(), np.finfo(np.float32).tiny))
    return (f"verified with onnxruntime: logits of {VERIFY_BATCH} random inputs within {error:.1e} of handgrad's "
            "(max |difference| / max |logit|)")
