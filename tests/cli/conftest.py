"""Fixtures the CLI tests share."""
import pytest

from tests.formats import write_idx_dataset


@pytest.fixture
def data_dir(tmp_path, isolated_data):
    """A small Fashion-MNIST in its real IDX files (300 training, 80 test images) in ``tmp_path/fmnist``."""
    d = tmp_path / "fmnist"
    write_idx_dataset(d, n_train=300, n_test=80)
    return d
