from pathlib import Path

import pytest

from backends.profile import FLOAT, load_profile

CONFIGS = Path(__file__).parents[2] / "hw_configs"


def test_bundled_profiles_load():
    loihi = load_profile(CONFIGS / "loihi2.toml")
    assert loihi.fixed_point and loihi.mantissa_bits == 8 and loihi.state_bits == 24
    assert load_profile(CONFIGS / "loihi2_w6.toml").mantissa_bits == 6
    assert load_profile(CONFIGS / "loihi2_w4.toml").mantissa_bits == 4
    assert not load_profile(CONFIGS / "float.toml").fixed_point
    assert load_profile(FLOAT) is FLOAT


@pytest.mark.parametrize(
    "text, message",
    [
        ('name = "x"\nfixed_point = true\ncolour = 3\n', r"unknown key\(s\) \['colour'\]"),
        ('name = "x"\nfixed_point = true\n[weights]\nmantisa_bits = 8\n', r"unknown key\(s\) \['mantisa_bits'\] in \[weights\]"),
        ('name = "x"\nfixed_point = true\n[weights]\nmantissa_bits = 9\n', r"weights.mantissa_bits = 9 is out of range"),
        ('name = "x"\nfixed_point = true\n[neuron]\nstate_bits = 16\n', r"neuron.state_bits = 16 is out of range \(must be 24"),
        ('name = "x"\nfixed_point = true\n[quantize]\nheadroom = 0.5\n', "quantize.headroom"),
        ('name = "x"\nfixed_point = "yes"\n', "'fixed_point' must be true or false"),
        ('fixed_point = true\n', "'name'"),
        ('name = "x"\nfixed_point = false\n[weights]\nmantissa_bits = 8\n', "fixed_point = false"),
        ('name = "x\nfixed_point = true\n', "malformed TOML"),
    ],
)
def test_bad_profiles(tmp_path, text, message):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_profile(path)


def test_missing_profile(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_profile(tmp_path / "none.toml")
