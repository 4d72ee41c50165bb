import os
from pathlib import Path

import pytest

from backends.profile import FLOAT, bundled_profiles, load_profile


def test_bundled_profiles_load_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # package data: no path relative to the repository
    assert bundled_profiles() == ["float", "loihi2", "loihi2-w4", "loihi2-w6"]
    loihi = load_profile("loihi2")
    assert loihi.name == "loihi2" and loihi.fixed_point and loihi.mantissa_bits == 8 and loihi.state_bits == 24
    for bits in (6, 4):
        variant = load_profile(f"loihi2-w{bits}")
        assert variant.name == f"loihi2-w{bits}" and variant.mantissa_bits == bits
        # a variant states only what differs: everything else is its base's
        assert variant.headroom == loihi.headroom and variant.exp_min == loihi.exp_min and variant.fixed_point
    assert not load_profile("float").fixed_point
    assert load_profile(FLOAT) is FLOAT


def test_extends_a_user_file_and_digest_by_content(tmp_path):
    (tmp_path / "base.toml").write_text("fixed_point = true\n[quantize]\nheadroom = 4.0\n")
    (tmp_path / "mine.toml").write_text('extends = "base.toml"\n[weights]\nmantissa_bits = 5\n')
    mine = load_profile(tmp_path / "mine.toml")
    assert (mine.name, mine.mantissa_bits, mine.headroom) == ("mine", 5, 4.0)
    # the same settings under another name: the same digest; other settings: another digest
    (tmp_path / "loihi2.toml").write_text("fixed_point = true\n")
    assert load_profile(tmp_path / "loihi2.toml").digest() == load_profile("loihi2").digest()
    assert mine.digest() != load_profile("loihi2").digest()


def test_extends_cycle_is_refused(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\nfixed_point = true\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\nfixed_point = true\n')
    with pytest.raises(ValueError, match="cycle"):
        load_profile(tmp_path / "a.toml")


def test_unknown_name_lists_the_bundled_ones():
    with pytest.raises(FileNotFoundError, match="bundled: float, loihi2, loihi2-w4, loihi2-w6"):
        load_profile("loihi3")


@pytest.mark.parametrize(
    "text, message",
    [
        ('name = "x"\nfixed_point = true\ncolour = 3\n', r"unknown key\(s\) \['colour'\]"),
        (
            'name = "x"\nfixed_point = true\n[weights]\nmantisa_bits = 8\n',
            r"unknown key\(s\) \['mantisa_bits'\] in \[weights\]",
        ),
        (
            'name = "x"\nfixed_point = true\n[weights]\nmantissa_bits = 9\n',
            r"weights.mantissa_bits = 9 is out of range",
        ),
        (
            'name = "x"\nfixed_point = true\n[neuron]\nstate_bits = 16\n',
            r"neuron.state_bits = 16 is out of range \(must be 24",
        ),
        ('name = "x"\nfixed_point = true\n[quantize]\nheadroom = 0.5\n', "quantize.headroom"),
        ('name = "x"\nfixed_point = "yes"\n', "'fixed_point' must be true or false"),
        ('name = "x"\nfixed_point = false\n[weights]\nmantissa_bits = 8\n', "fixed_point = false"),
        ('name = "x\nfixed_point = true\n', "malformed TOML"),
        ("fixed_point = true\n[weights]\nmantissa_bits = true\n", r"weights.mantissa_bits = True must be an integer"),
        ("fixed_point = true\n[neuron]\ndecay_bits = 12.0\n", r"neuron.decay_bits = 12.0 must be an integer"),
        ("fixed_point = true\nextends = 3\n", "extends = 3 must name a profile"),
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
    assert not os.path.exists(tmp_path / "none.toml")


def test_extends_naming_nothing_names_the_file_that_says_it(tmp_path):
    (tmp_path / "mine.toml").write_text('extends = "nowhere"\n')
    with pytest.raises(ValueError, match=r"mine.toml: extends = 'nowhere', which is no such file, nor a bundled"):
        load_profile(tmp_path / "mine.toml")


def test_the_bundled_profiles_are_the_hw_configs_package_data(tmp_path):
    """The profiles are package data of hw_configs/: a user's working folder does not matter."""
    import json
    import subprocess
    import sys

    code = (
        "import json, backends, hw_configs\n"
        "from pathlib import Path\n"
        "p = backends.load_profile('loihi2')\n"
        "print(json.dumps([p.name, str(Path(hw_configs.__file__).parent), sorted(backends.bundled_profiles())]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    name, folder, bundled = json.loads(out.stdout.strip().splitlines()[-1])
    assert name == "loihi2" and Path(folder).name == "hw_configs"
    assert bundled == ["float", "loihi2", "loihi2-w4", "loihi2-w6"]
    assert sorted(p.stem for p in Path(folder).glob("*.toml")) == bundled
