import numpy as np
import pytest

from neuroattack.data.datasets import load_dataset
from neuroattack.data.static import load_digits, load_mnist


def test_mnist_splits_shapes_ranges():
    sizes = {"train": 50_000, "val": 10_000, "test": 10_000}
    for split, n in sizes.items():
        x, y = load_mnist(split)
        assert x.shape == (n, 1, 28, 28) and x.dtype == np.float32
        assert y.shape == (n,) and set(np.unique(y)) == set(range(10))
        assert x.min() >= 0 and x.max() <= 1
    # fixed splits: the same first test label every time
    assert load_mnist("test")[1][:5].tolist() == [7, 2, 1, 0, 4]


def test_digits_fixed_split():
    sizes = [len(load_digits(s)[1]) for s in ("train", "val", "test")]
    assert sizes == [1197, 300, 300]
    x1, y1 = load_digits("test")
    x2, y2 = load_digits("test")
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert x1.shape[1:] == (1, 8, 8) and 0 <= x1.min() and x1.max() <= 1


def test_bad_split_and_n():
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist("dev")
    with pytest.raises(ValueError, match="n must be in"):
        load_dataset("digits", "test", n=10_000)
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_dataset("cifar", "test")


def test_load_dataset_images():
    ds = load_dataset("digits", "train", n=100)
    assert len(ds) == 100 and ds.input_shape == (1, 8, 8) and ds.encoding == "bernoulli"
    xb, yb = next(ds.batches(32))
    assert xb.shape == (32, 1, 8, 8) and yb.shape == (32,)


def test_mnist_rows_and_labels_equal_the_whole_split_sliced():
    from neuroattack.data.static import mnist_labels

    x, y = load_mnist("val")
    some_x, some_y = load_mnist("val", slice(1000, 1010))
    assert np.array_equal(some_x, x[1000:1010]) and np.array_equal(some_y, y[1000:1010])
    assert some_x.dtype == np.float32 and some_x.shape == (10, 1, 28, 28)
    assert np.array_equal(mnist_labels("val"), y) and mnist_labels("val").dtype == np.int64
