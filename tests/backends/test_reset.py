"""Which reset a graph's neurons use: the caller, the file, the framework's default, else zero."""

import warnings

import nir
import numpy as np
import pytest

import backends
from backends.reset import FRAMEWORK_RESET, resolve_reset
from tests.backends import graphs as G


def _quiet(graph, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return resolve_reset(graph, *args), [str(w.message) for w in caught]


def test_the_caller_wins_over_the_file_and_the_framework():
    g = G.with_reset(G.chain([3, 2], G.if_), "zero")
    assert _quiet(g, "subtract", "snntorch") == ("subtract", [])
    assert _quiet(g, None, "snntorch") == ("zero", [])  # the file says it: no guess, no warning


@pytest.mark.parametrize("framework", sorted(FRAMEWORK_RESET))
def test_a_named_framework_gives_its_default_and_says_so(framework):
    reset, said = _quiet(G.chain([3, 2], G.if_), None, framework)
    assert reset == FRAMEWORK_RESET[framework]
    assert len(said) == 1 and framework in said[0] and repr(reset) in said[0]


def test_subtract_is_the_default_of_snntorch_sinabs_rockpool_spyx_and_zero_without_a_framework():
    assert {k for k, v in FRAMEWORK_RESET.items() if v == "subtract"} == {"snntorch", "sinabs", "rockpool", "spyx"}
    assert _quiet(G.chain([3, 2], G.if_)) == ("zero", [])


@pytest.mark.parametrize("where", ["caller", "metadata"])
def test_an_unknown_reset_is_refused_naming_where_it_came_from(where):
    g = G.chain([3, 2], G.if_)
    if where == "metadata":
        g = G.with_reset(g, "soft")
    with pytest.raises(ValueError, match=f"reset from {'the caller' if where == 'caller' else 'the graph'}.*'soft'"):
        resolve_reset(g, "soft" if where == "caller" else None)


def test_the_lowering_carries_the_reset_to_every_population():
    g = G.recurrent()
    assert {p.reset for p in backends.lower(g, reset="subtract").populations} == {"subtract"}
    assert {p.reset for p in backends.lower(g).populations} == {"zero"}


def test_subtract_reset_on_every_backend_matches_a_hand_computed_integrator():
    """One IF neuron, input weight 0.6 thresholds, input on at every step: subtract reset keeps the
    excess (v 0.6, 1.2 -> 0.2, 0.8, 1.4 -> 0.4, 1.0, 1.6 -> 0.6, 1.2 -> 0.2), zero reset spikes
    every second step. The hardware backends answer one step late (one synaptic delay)."""
    g = G.graph(
        {
            "input": nir.Input(np.array([1])),
            "w": nir.Linear(np.array([[0.6]])),
            "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1)),
            "output": nir.Output(np.array([1])),
        },
        [("input", "w"), ("w", "if"), ("if", "output")],
        dt=1.0,
    )
    x = np.ones((1, 8, 1), np.float32)
    want = {"subtract": [0, 1, 0, 1, 0, 1, 1, 0], "zero": [0, 1, 0, 1, 0, 1, 0, 1]}
    for reset, spikes in want.items():
        ref = backends.load(g, None, "reference", reset=reset).run(x)
        assert ref.output.flatten().tolist() == spikes, reset
        for profile in ("float", "loihi2"):
            emu = backends.load(g, profile, "emulator", reset=reset).run(x)
            assert emu.window.flatten().tolist()[1:9] == spikes, (reset, profile)
