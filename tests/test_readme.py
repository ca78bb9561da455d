"""The README's examples run as written."""
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2
    assert len(BLOCKS[0].strip().splitlines()) <= 15


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys):
    namespace = {}
    for block in BLOCKS[: index + 1]:  # later blocks may use names from earlier ones
        exec(compile(block, f"README.md block {index}", "exec"), namespace)
    if index == 0:
        out = capsys.readouterr().out
        assert "PASS" in out and "Total params: 857,738" in out
        assert namespace["terms"].activity > 0 and namespace["terms"].weight > 0
