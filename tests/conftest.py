import os

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    """Keep the nmnist-sim cache of the test session out of the user's cache."""
    path = tmp_path_factory.mktemp("neuroattack-cache")
    old = os.environ.get("NEUROATTACK_CACHE")
    os.environ["NEUROATTACK_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("NEUROATTACK_CACHE", None)
    else:
        os.environ["NEUROATTACK_CACHE"] = old
