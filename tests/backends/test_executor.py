"""The input check every backend shares: binary spikes in, one line naming the first bad element out."""

import numpy as np
import pytest
import torch

from backends.executor import check_spikes


@pytest.mark.parametrize(
    "dtype, value, shown",
    [
        (torch.uint8, 2, "2"),
        (torch.int8, -1, "-1"),  # 255 as an unsigned byte: caught by the same maximum
        (torch.float32, 0.5, "0.5"),
        (torch.float64, 3.0, "3"),
        (torch.int64, -7, "-7"),
    ],
)
def test_a_value_other_than_0_and_1_is_named_with_its_index(dtype, value, shown):
    x = torch.zeros(3, 4, 2, 5, dtype=dtype)
    x[1, 2, 0, 3] = 1
    x[2, 1, 1, 4] = value
    with pytest.raises(
        ValueError, match=rf"^hardware input must be binary spikes \(0/1\): spikes\[2, 1, 1, 4\] = {shown}$"
    ):
        check_spikes(x, (2, 5))


def test_nan_is_named_and_binary_input_of_every_dtype_passes_unchanged():
    x = torch.zeros(2, 3, 4)
    x[1, 0, 2] = float("nan")
    with pytest.raises(ValueError, match=r"contains NaN: spikes\[1, 0, 2\]"):
        check_spikes(x, (4,))
    rng = np.random.default_rng(0)
    spikes = rng.random((4, 3, 6)) < 0.3
    for array in (spikes, spikes.astype(np.uint8), spikes.astype(np.int8), spikes.astype(np.float32)):
        out = check_spikes(array, (6,))
        assert out.dtype == torch.int8 and np.array_equal(out.numpy(), spikes.astype(np.int8))
