"""The risk model: shapes, gradients into both towers, loss weighting, metrics names, size scaling."""

from __future__ import annotations

import pickle

import pytest
import torch

from training.data import TrainingSetDataModule
from training.model import RiskModel
from training.synthetic import synthetic_training_set


@pytest.fixture(autouse=True)
def one_thread():
    """2-core CI boxes: intra-op threads only add contention for models this small."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dm() -> TrainingSetDataModule:
    dm = TrainingSetDataModule(
        synthetic_training_set("readmission_30d", n=200, seed=7), "readmission_30d", batch_size=16
    )
    dm.setup("fit")
    return dm


@pytest.fixture
def model(dm: TrainingSetDataModule) -> RiskModel:
    torch.manual_seed(0)
    return RiskModel.from_datamodule(
        dm, tabular_hidden=[32, 16], note_hidden=[16], fusion_hidden=[8], dropout=0.0
    )


def test_forward_gives_one_logit_per_row_and_gradients_reach_both_towers(
    dm, model: RiskModel
) -> None:
    tabular, note, label = next(iter(dm.train_dataloader()))
    logits = model(tabular, note)
    assert logits.shape == (16,) and logits.dtype == torch.float32
    loss, _, _ = model._loss((tabular, note, label))
    loss.backward()
    for tower in (model.tabular_tower, model.note_tower, model.fusion, model.head):
        grads = [p.grad for p in tower.parameters()]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)
    assert model.note_tower[1].weight.grad.shape == (16, 256)  # after the input LayerNorm


def test_the_note_changes_the_prediction(dm, model: RiskModel) -> None:
    tabular, note, _ = dm.datasets["validation"].tensors
    model.eval()
    assert not torch.allclose(model(tabular, note), model(tabular, torch.zeros_like(note)))


def test_loss_uses_train_pos_weight(dm, model: RiskModel) -> None:
    assert model.pos_weight.item() == pytest.approx(dm.pos_weight)
    assert "pos_weight" in model.state_dict()
    tabular, note, _ = next(iter(dm.train_dataloader()))
    ones, zeros = torch.ones(16), torch.zeros(16)
    logits = model(tabular, note).detach()
    pos = torch.nn.functional.binary_cross_entropy_with_logits(logits, ones)
    assert model._loss((tabular, note, ones))[0].item() == pytest.approx(
        dm.pos_weight * pos.item(), rel=1e-5
    )
    neg = torch.nn.functional.binary_cross_entropy_with_logits(logits, zeros)
    assert model._loss((tabular, note, zeros))[0].item() == pytest.approx(neg.item(), rel=1e-5)


def test_predict_step_returns_probabilities_with_or_without_labels(dm, model: RiskModel) -> None:
    batch = next(iter(dm.predict_dataloader()))
    probs = model.predict_step(batch, 0)
    assert probs.shape == (16,) and ((probs > 0) & (probs < 1)).all()
    assert torch.equal(model.predict_step(batch[:2], 0), probs)


def test_hparams_are_plain_and_enough_to_rebuild(dm, model: RiskModel) -> None:
    hp = dict(model.hparams)
    assert hp["note_hidden"] == [16] and hp["pos_weight"] == pytest.approx(dm.pos_weight)
    assert hp["preprocessor"] == dm.preprocessor.state_dict()
    rebuilt = RiskModel(**hp)
    rebuilt.load_state_dict(model.state_dict())
    tabular, note, _ = dm.datasets["test"].tensors
    model.eval(), rebuilt.eval()
    assert torch.equal(rebuilt(tabular, note), model(tabular, note))
    small = model.loggable_hparams()
    assert (
        "preprocessor" not in small
        and small["task"] == "readmission_30d"
        and small["note_dim"] == 256
    )
    assert (
        pickle.loads(pickle.dumps(model)).tabular_dim == model.tabular_dim
    )  # Ray ships it between processes


def test_task_without_notes_has_no_note_tower() -> None:
    dm = TrainingSetDataModule(
        synthetic_training_set("t2d_onset_1y", n=120, seed=1), "t2d_onset_1y", batch_size=8
    )
    model = RiskModel.from_datamodule(dm)
    assert model.note_tower is None and model.note_dim == 0
    tabular, note, _ = next(iter(dm.train_dataloader()))
    assert note.shape == (8, 0) and model(tabular, note).shape == (8,)


def test_width_and_depth_scale_to_millions_of_parameters(dm) -> None:
    big = RiskModel.from_datamodule(
        dm, tabular_hidden=[1024, 1024], note_hidden=[1024, 1024, 1024], fusion_hidden=[512]
    )
    assert 3_000_000 < sum(p.numel() for p in big.parameters()) < 10_000_000
    tabular, note, _ = next(iter(dm.train_dataloader()))
    assert big(tabular, note).shape == (16,)
