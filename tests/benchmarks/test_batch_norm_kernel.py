"""``benchmarks/batch_norm_kernel.py`` runs its whole code path once on a tiny batch (no timing is asserted)."""


def test_prints_every_shape_and_pass(load_benchmark, capsys):
    module = load_benchmark("batch_norm_kernel")
    module.main(["--batches", "2", "--rounds", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.endswith(tuple("0123456789")) and " 2 " in line]
    assert len(rows) == 9  # three shapes, three passes
    for label in module.shapes(2):
        assert sum(line.startswith(label) for line in rows) == 3
