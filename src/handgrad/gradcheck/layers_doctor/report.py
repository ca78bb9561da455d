"""The result of ``check_layers``: per layer a forward and a backward verdict and the failures, each with the
case, the output (``out``, ``loss``, ``dx``, ``dw``, ``db``, ``dgamma``, ``dbeta``, ``running_mean``,
``running_var``), the diagnosis and one sentence saying what to fix.

JSON (``to_dict``)::

    {"passed": bool, "layers": [{"layer", "forward", "backward", "passed", "error",
                                 "failures": [{"case", "output", "diagnosis", "message"}]}]}

``forward``/``backward`` are true (every case passed), false, or null (not checked: no backward function,
or the layer could not be run at all; ``error`` then says why). A file that does not import is one entry
with ``layer`` ``"import"``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

FORWARD_OUTPUTS = ("out", "loss", "running_mean", "running_var")


@dataclass(frozen=True)
class Failure:
    case: str
    output: str
    diagnosis: str
    message: str


@dataclass
class LayerResult:
    layer: str
    functions: str = ""  # "conv_forward_naive / conv_backward_naive"
    failures: list[Failure] = field(default_factory=list)
    error: str | None = None  # why the layer could not be checked at all
    forward_checked: bool = True
    backward_checked: bool = True
    notes: list[str] = field(default_factory=list)  # e.g. which dropout convention p follows
    cases: int = 0

    def _verdict(self, forward: bool):
        if not (self.forward_checked if forward else self.backward_checked):
            return None
        return not any((f.output in FORWARD_OUTPUTS) == forward for f in self.failures)

    @property
    def forward(self):
        return self._verdict(True)

    @property
    def backward(self):
        return self._verdict(False)

    @property
    def passed(self) -> bool:
        return self.error is None and not self.failures

    def grouped_failures(self) -> list[tuple[str, str, str, list[str]]]:
        """``[(output, diagnosis, message, cases)]``: the same failure in several cases once, in first-seen
        order (what the text and HTML forms show)."""
        groups: dict[tuple, list[str]] = {}
        for f in self.failures:
            groups.setdefault((f.output, f.diagnosis, f.message), []).append(f.case)
        return [(*key, cases) for key, cases in groups.items()]

    def where(self, cases: list[str]) -> str:
        """``case 'name'``, ``all 3 cases`` or ``2 cases: a; b``."""
        if len(cases) == 1:
            return f"case '{cases[0]}'"
        return f"all {len(cases)} cases" if len(cases) == self.cases else f"{len(cases)} cases: " + "; ".join(cases)

    def to_dict(self) -> dict:
        return {"layer": self.layer, "forward": self.forward, "backward": self.backward, "passed": self.passed,
                "error": self.error,
                "failures": [{"case": f.case, "output": f.output, "diagnosis": f.diagnosis, "message": f.message}
                             for f in self.failures]}


def _mark(verdict) -> str:
    return {True: "ok", False: "FAIL", None: "-"}[verdict]


@dataclass
class LayersReport:
    layers: list[LayerResult]
    title: str = "check_layers"
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.layers) and all(r.passed for r in self.layers)

    def get(self, layer: str) -> LayerResult:
        for r in self.layers:
            if r.layer == layer:
                return r
        raise KeyError(f"no layer {layer!r} in the report; layers: {[r.layer for r in self.layers]}")

    def failed_layers(self) -> list[str]:
        return [r.layer for r in self.layers if not r.passed]

    def to_dict(self) -> dict:
        return {"passed": self.passed, "layers": [r.to_dict() for r in self.layers]}

    def __str__(self) -> str:
        width = max([len(r.layer) for r in self.layers] + [5])
        lines = [self.title, f"{'layer':<{width}}  forward  backward  cases  functions"]
        for r in self.layers:
            lines.append(f"{r.layer:<{width}}  {_mark(r.forward):<7}  {_mark(r.backward):<8}  {r.cases:>5}  "
                         f"{r.functions}")
            if r.error is not None:
                lines.append(f"  error: {r.error}")
            for output, diagnosis, message, cases in r.grouped_failures():  # one line per distinct failure
                lines.append(f"  {output} [{diagnosis}] in {r.where(cases)}: {message}")
            lines.extend(f"  note: {note}" for note in r.notes)
        if self.passed:
            lines.append(f"all {len(self.layers)} layers pass")
        else:
            lines.append(f"FAILED: {', '.join(self.failed_layers())}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from handgrad.display.layers_html import layers_html  # Jupyter's form; str() is the terminal's

        return layers_html(self)
