import pytest
import torch

from neuroattack.attacks import BIM, CWL2, FGSM, G2SRSF, PGD, expand_targets
from neuroattack.attacks.metrics import AttackResult, perturbation
from neuroattack.data.datasets import load_dataset
from neuroattack.models.snn import predict


@pytest.fixture(scope="module")
def digits_test():
    ds = load_dataset("digits", "test", n=60)
    return ds.x, ds.y


def test_victims_are_trained(digits_victim, event_victim, event_digits, digits_test):
    x, y = digits_test
    acc = (digits_victim.predict(x, torch.Generator().manual_seed(0), 5).mode(0).values == y).float().mean()
    assert acc > 0.85
    _, xt, yt = event_digits
    assert (event_victim.predict(xt[:100])[0] == yt[:100]).float().mean() > 0.8


@pytest.mark.parametrize("attack_cls", [FGSM, PGD, BIM])
@pytest.mark.parametrize("grad", ["stbp", "hart", "cba"])
def test_linf_attacks_respect_the_bound(digits_victim, digits_test, attack_cls, grad):
    x, y = digits_test
    atk = attack_cls(digits_victim, grad=grad, eps=0.1, eot=2, eval_draws=3, seed=1)
    x_adv = atk(x, y)
    assert x_adv.shape == x.shape
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert atk.last_result.summary().n_attacked > 40


def test_pgd_is_stronger_than_nothing(digits_victim, digits_test):
    x, y = digits_test
    res = PGD(digits_victim, grad="stbp", eps=0.3, alpha=0.05, steps=10, eot=2, seed=0).run(x, y)[1]
    assert res.summary().asr > 0.5


def test_event_attack_keeps_spikes_binary_and_changes_only_flips(event_victim, event_digits):
    _, xt, yt = event_digits
    x, y = xt[:40], yt[:40]
    atk = G2SRSF(event_victim, grad="stbp", steps=25, gamma=0.05, seed=0)
    x_adv = atk(x, y)
    assert x_adv.dtype == x.dtype and x_adv.shape == x.shape
    assert set(x_adv.unique().tolist()) <= {0, 1}
    res = atk.last_result.summary()
    assert res.asr > 0.8
    assert 0 < res.mean_l0
    assert atk.last_result.iterations.max() <= 25


def test_untargeted_success_is_a_real_misclassification(event_victim, event_digits):
    _, xt, yt = event_digits
    x, y = xt[:30], yt[:30]
    atk = G2SRSF(event_victim, steps=25, seed=3)
    x_adv, res = atk.run(x, y)
    with torch.no_grad():
        pred = predict(event_victim.model(x_adv.transpose(0, 1).float()))
    ok = res.success & res.clean_correct
    assert ok.sum() > 0
    assert (pred[ok] != y[ok]).all()


def test_targeted_success_means_the_target_wins(event_victim, event_digits):
    _, xt, yt = event_digits
    x, y, targets = expand_targets(xt[:6], yt[:6], 10)
    assert len(x) == 54 and (targets != y).all()
    atk = G2SRSF(event_victim, steps=25, targeted=True, seed=0)
    x_adv, res = atk.run(x, y, targets)
    with torch.no_grad():
        counts = event_victim.model(x_adv.transpose(0, 1).float()).sum(0)
    ok = res.success & res.clean_correct
    assert ok.sum() > 10
    assert (counts[ok].argmax(-1) == targets[ok]).all()


def test_perturbation_bound_is_respected(event_victim, event_digits):
    _, xt, yt = event_digits
    x, y = xt[:40], yt[:40]
    eps = 0.004  # L2 / N: about 5 flips of N = 512 points
    x_adv, res = G2SRSF(event_victim, steps=25, eps=eps, seed=0).run(x, y)
    pert = perturbation(x_adv, x)
    assert (pert[res.success] < eps).all()
    unbounded = G2SRSF(event_victim, steps=25, seed=0).run(x, y)[1]
    assert res.summary().asr <= unbounded.summary().asr


def test_without_sampling_needs_more_perturbation(event_victim, event_digits):
    _, xt, yt = event_digits
    x, y = xt[:60], yt[:60]
    with_s = G2SRSF(event_victim, steps=25, seed=0).run(x, y)[1].summary()
    without = G2SRSF(event_victim, steps=25, sampling=False, seed=0).run(x, y)[1].summary()
    assert without.mean_l0 > with_s.mean_l0


def test_penultimate_threshold_is_used_only_while_crafting(event_victim, event_digits):
    _, xt, yt = event_digits
    x, y = xt[:20], yt[:20]
    model = event_victim.model
    before = [c.p.v_th.item() for c in model.spiking_layers()]
    G2SRSF(event_victim, steps=5, penultimate_threshold=3.0, seed=0).run(x, y)
    assert [c.p.v_th.item() for c in model.spiking_layers()] == before


def test_image_path_g2s_and_cwl2(digits_victim, digits_test):
    x, y = digits_test
    g2s_res = G2SRSF(digits_victim, steps=10, eval_draws=3, seed=0).run(x, y)
    assert g2s_res[0].min() >= 0 and g2s_res[0].max() <= 1
    cw = CWL2(digits_victim, c=0.5, steps=10, eval_draws=3, seed=0).run(x, y)
    assert (
        cw[1].summary().mean_perturbation is None
        or cw[1].summary().mean_perturbation <= g2s_res[1].summary().mean_perturbation * 1.5
    )


def test_configuration_errors(digits_victim, event_victim, event_digits):
    _, xt, yt = event_digits
    with pytest.raises(ValueError, match="perturbs images"):
        PGD(event_victim)
    with pytest.raises(ValueError, match="does not give spike-domain gradients"):
        G2SRSF(event_victim, grad="cba")
    with pytest.raises(ValueError, match=r"eps must be in \(0, 1\]"):
        FGSM(digits_victim, eps=8)
    with pytest.raises(ValueError, match="gamma"):
        G2SRSF(event_victim, gamma=1.5)
    with pytest.raises(ValueError, match="eps"):
        G2SRSF(event_victim, eps=0.0)
    with pytest.raises(ValueError, match="gradient estimator must be one of"):
        PGD(digits_victim, grad="foo")
    with pytest.raises(ValueError, match=r"does not match the model: expected \[B, T=8, 1, 8, 8\]"):
        G2SRSF(event_victim).run(torch.zeros(2, 8, 2, 34, 34), torch.zeros(2))
    with pytest.raises(ValueError, match="needs targets"):
        G2SRSF(event_victim, targeted=True).run(xt[:2], yt[:2])


def test_asr_counts_only_correctly_classified_inputs():
    n = 4
    res = AttackResult(
        labels=torch.tensor([0, 1, 2, 3]),
        targets=None,
        clean_correct=torch.tensor([True, True, False, True]),
        success=torch.tensor([True, False, True, True]),
        success_fraction=torch.tensor([1.0, 0.25, 1.0, 0.75]),
        iterations=torch.tensor([1, 25, 3, 4]),
        l2_per_point=torch.tensor([0.1, 0.3, 0.5, 0.2]),
        l0=torch.tensor([1, 9, 5, 2]),
        linf=torch.ones(n),
        rsf_invocations=torch.tensor([0, 2, 0, 1]),
        zero_grad_first=torch.tensor([False, True, True, False]),
        pred_clean=torch.tensor([0, 1, 0, 3]),
        pred_adv=torch.tensor([5, -1, 0, 0]),
        added=torch.tensor([1, 5, 5, 2]),
        removed=torch.tensor([0, 4, 0, 0]),
        no_decision=torch.tensor([False, True, False, False]),  # the failed attack silenced it
        clean_no_decision=torch.tensor([False, False, True, False]),
        budget=10,
    )
    s = res.summary()
    assert s.n_attacked == 3 and s.n_success == 2
    assert s.asr == pytest.approx(2 / 3)
    assert s.asr_expected == pytest.approx((1.0 + 0.25 + 0.75) / 3)
    assert s.mean_perturbation == pytest.approx(0.15)  # successes among attacked only
    assert s.zero_grad_first == 1
    assert s.mean_iterations == pytest.approx(10.0)
    assert s.mean_l0 == pytest.approx(1.5) and s.median_l0 == 1.0 and s.mean_events_added == pytest.approx(1.5)
    assert s.no_decision_rate == pytest.approx(1 / 3) and s.clean_no_decision_rate == 0.25 and s.budget == 10


def test_ann_victims_and_cross_attack(digits_victim, digits_test):
    from neuroattack.attacks import judge
    from neuroattack.data.datasets import load_dataset
    from neuroattack.models.ann import ANN
    from neuroattack.train import fit
    from neuroattack.victims import Victim

    torch.manual_seed(0)
    ann = ANN("128FC-10FC", (1, 8, 8))
    fit(ann, load_dataset("digits", "train"), "bernoulli", 8, epochs=10, progress=False)
    ann_victim = Victim(ann, "bernoulli", 8, "ce")
    x, y = digits_test
    x_adv, res = PGD(ann_victim, grad="ann", eps=0.25, alpha=0.05, steps=10, seed=0).run(x, y)
    assert res.summary().clean_accuracy > 0.85 and res.summary().asr > 0.5
    # cross attack: ANN-crafted inputs judged on the SNN
    cross = judge(digits_victim, x, x_adv, y, None, eval_draws=3)
    assert cross.summary().n_attacked > 40 and cross.summary().asr is not None
    with pytest.raises(ValueError, match="grad='ann'"):
        PGD(ann_victim, grad="stbp")
    with pytest.raises(ValueError, match="grad='ann'"):
        PGD(digits_victim, grad="ann")
