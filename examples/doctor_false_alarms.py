"""False-alarm rate of the gradient doctor on correct CS231n code at the course's own check settings.

    python examples/doctor_false_alarms.py [--inits 20]

For each input shape (3x8x8 and 3x32x32) and each of ``--inits`` initializations (``weight_scale=1e-3``, as
the assignment's notebook checks its ThreeLayerConvNet), runs ``diagnose`` with ``terms={"weight": "reg"}``
and counts the reports that fail (false alarms: the code is correct), the entries reported as kinks, and the
time per check.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "gradcheck"))
from cs231n.classifiers import ThreeLayerConvNet  # noqa: E402

from handgrad.gradcheck import diagnose  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inits", type=int, default=20)
    args = parser.parse_args()
    for shape in ((3, 8, 8), (3, 32, 32)):
        alarms, kinks, times = 0, 0, []
        for seed in range(args.inits):
            rng = np.random.default_rng(1000 + seed)
            x, y = rng.standard_normal((2, *shape)), rng.integers(0, 10, size=2)
            model = ThreeLayerConvNet(input_dim=shape, num_filters=3, filter_size=3, hidden_dim=7, reg=0.1,
                                      seed=seed, dtype=np.float64)
            start = time.perf_counter()
            report = diagnose(model, x, y, {"weight": "reg"}, seed=seed, verbose=False)
            times.append(time.perf_counter() - start)
            alarms += not report.passed
            kinks += report.kink_count() + (report.randomized.kink_count() if report.randomized else 0)
            if not report.passed:
                print(report)
        shown = "x".join(map(str, shape))
        print(f"{shown}: {alarms} of {args.inits} correct initializations reported FAIL (false alarms), "
              f"{kinks} entries on kinks passed as kinks; {min(times):.2f}-{max(times):.2f} s per check "
              f"(median {np.median(times):.2f} s, both points)")


if __name__ == "__main__":
    main()
