"""One event budget every event attack honours; the baselines every attack is read against."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import backends
from neuroattack.attacks import G2SRSF, RandomFlips, Silence, SparseFool, SpikeBoundary, SpikeSquare
from neuroattack.attacks.budget import clip_to_budget, enforce_budget
from neuroattack.attacks.random_flips import matched_random
from neuroattack.replay import graph_of

K = 6


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 12))
def test_clip_keeps_every_sample_within_the_budget_and_only_undoes_the_step(seed, budget):
    gen = torch.Generator().manual_seed(seed)
    x0 = (torch.rand(3, 40, generator=gen) < 0.3).float()
    previous = enforce_budget(x0, (torch.rand(3, 40, generator=gen) < 0.5).float(), budget)
    proposed = (torch.rand(3, 40, generator=gen) < 0.5).float()
    out = clip_to_budget(x0, previous, proposed, budget, torch.Generator().manual_seed(seed))
    assert ((out != x0).sum(1) <= budget).all()
    assert ((out == proposed) | (out == previous)).all()  # each bin: the step's value or the old one
    undo = (proposed != previous) & (proposed == x0)
    assert (out[undo] == x0[undo]).all()  # flips back to the clean value are always taken


def _event_attacks(victim, emulator):
    return {
        "g2s-rsf": G2SRSF(victim, steps=10, seed=0, budget=K),
        "sparsefool": SparseFool(victim, seed=0, budget=K),
        "random": RandomFlips(victim, seed=0, budget=K),
        "silence": Silence(victim, budget=K),
        "square": SpikeSquare(emulator, queries=40, seed=0, budget=K),
        "boundary": SpikeBoundary(emulator, queries=40, seed=0, budget=K),
    }


@pytest.mark.parametrize("name", ["g2s-rsf", "sparsefool", "random", "silence", "square", "boundary"])
def test_no_sample_changes_more_bins_than_the_budget(name, event_victim, event_digits):
    _, xt, yt = event_digits
    x, y = xt[:24].float(), yt[:24]
    emulator = backends.load(graph_of(event_victim.model), "loihi2", "emulator")
    x_adv, result = _event_attacks(event_victim, emulator)[name].run(x, y)
    flips = (x_adv != x).flatten(1).sum(1)
    assert (flips <= K).all(), (name, flips.max())
    assert torch.equal(result.added + result.removed, flips)
    assert result.summary().budget == K
    if name == "random":
        attacked = result.clean_correct
        assert (flips[attacked | ~attacked] == K).all()  # exactly K random bins, every sample


def test_silence_fools_nothing_and_decides_nothing_on_a_bias_free_model(event_victim, event_digits):
    _, xt, yt = event_digits
    assert not any("bias" in n for n, _ in event_victim.model.named_parameters())
    x_adv, result = Silence(event_victim).run(xt[:40], yt[:40])
    s = result.summary()
    assert int(x_adv.sum()) == 0 and s.n_attacked > 20
    assert s.asr == 0.0 and s.no_decision_rate == 1.0  # erasing the input is no decision, not a success


def test_sparsefool_fools_with_far_fewer_events_than_g2s_rsf(event_victim, event_digits):
    _, xt, yt = event_digits
    x, y = xt[:60], yt[:60]
    g2s = G2SRSF(event_victim, seed=0).run(x, y)[1].summary()
    sparse = SparseFool(event_victim, seed=0).run(x, y)[1].summary()
    assert sparse.asr >= g2s.asr and sparse.n_attacked == g2s.n_attacked > 40
    assert sparse.median_l0 * 4 <= g2s.median_l0, (sparse.median_l0, g2s.median_l0)  # 11 against 63 here


def test_sparsefool_prunes_to_flips_each_of_which_is_needed(event_victim, event_digits):
    """Minimal flip by flip: undoing any one of the returned flips gives the label back (with trials
    enough for every pass; the default stops after 64 a sample)."""
    _, xt, yt = event_digits
    x, y = xt[:12], yt[:12]
    x_adv, result = SparseFool(event_victim, seed=0, prune_trials=1000).run(x, y)
    fooled = (result.success & result.clean_correct).nonzero().flatten()
    assert len(fooled) >= 8
    for i in fooled.tolist():
        for pos in (x_adv[i] != x[i]).nonzero():
            undone = x_adv[i : i + 1].clone()
            undone[(0, *pos.tolist())] = x[(i, *pos.tolist())]
            pred = event_victim.predict(undone)[0, 0]
            assert pred == y[i] or pred == -1, (i, pos)


def test_random_baseline_matches_the_attack_sample_by_sample():
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(5, 2, 3, 4, 4, generator=gen) < 0.3).float()
    adv = x.clone()
    adv[0, 0, 0, 0, :3] = 1 - adv[0, 0, 0, 0, :3]
    adv[3, 1, 2] = 1.0
    rnd = matched_random(x, adv, seed=1)
    for a, r in ((adv, rnd),):
        d_attack, d_random = (a - x).flatten(1), (r - x).flatten(1)
        assert torch.equal((d_attack > 0).sum(1), (d_random > 0).sum(1))
        assert torch.equal((d_attack < 0).sum(1), (d_random < 0).sum(1))
    assert not torch.equal(rnd, adv)  # other positions, the same counts


def test_a_budget_is_refused_for_image_inputs(digits_victim, event_victim):
    from neuroattack.attacks import PGD

    with pytest.raises(ValueError, match="budget counts input events"):
        PGD(digits_victim, budget=10)
    with pytest.raises(ValueError, match="need budget=K"):
        RandomFlips(event_victim)
    with pytest.raises(ValueError, match="budget counts input events; the model takes bernoulli-coded images"):
        RandomFlips(digits_victim, budget=3)
