"""A from-scratch tiny model trains on the tiny task: falling loss, logs, checkpoints,
validation loss, the eval hook, and resumption of a finished run; a non-finite step is never
evaluated; a run started from a step-N checkpoint resumes without that checkpoint."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.training import NonFiniteError, train
from instructrec_jax.training.metrics_writer import MetricsWriter, read_metrics
from instructrec_jax.training.preflight import SetupError
from instructrec_jax.training.program import TrainProgram
from tests.training.test_metrics_writer import tensorboard_steps


def test_tiny_model_trains_with_falling_loss_logs_checkpoints_and_hooks(make_config, tiny_model):
    calls = []

    def eval_fn(params, step):
        calls.append((step, jax.tree.structure(params)))
        return {"step_seen": float(step)}

    config = make_config(
        num_partitions=2,  # mesh 4 x 2: model-parallel kernels, data-parallel batch
        num_microbatches=2,
        pack=True,
        model=tiny_model.replace(dropout_rate=0.1),
        log_period=5,
        checkpoint_period=5,
        keep_checkpoints=2,
        eval_period=10,
        validation_steps=2,
    )
    result = train(config, eval_fn=eval_fn)
    model_dir = Path(config.model_dir)

    assert result.step == 20 and result.resumed_from_step is None
    train_records = [r for r in read_metrics(config.model_dir) if r["split"] == "train"]
    assert [r["step"] for r in train_records] == [5, 10, 15, 20]
    losses = [r["loss"] for r in train_records]
    assert losses[-1] < losses[0] - 0.3, losses
    for key in ("accuracy", "learning_rate", "grad_norm", "tokens_per_second", "mfu", "z_loss"):
        assert all(np.isfinite(r[key]) for r in train_records), key
    assert train_records[-1]["learning_rate"] == np.float32(1e-2)
    assert train_records[-1]["mfu"] > 0

    validation = [r for r in result.history if r["split"] == "validation"]
    assert [r["step"] for r in validation] == [10, 20]
    assert validation[-1]["loss"] < validation[0]["loss"] + 0.5
    assert [step for step, _ in calls] == [10, 20]
    assert calls[0][1] == jax.tree.structure(result.params)
    assert [r["step_seen"] for r in result.history if r["split"] == "eval"] == [10.0, 20.0]

    # keep_checkpoints=2 keeps the two newest; TensorBoard events per split.
    assert sorted(p.name for p in model_dir.glob("checkpoint_*")) == [
        "checkpoint_15",
        "checkpoint_20",
    ]
    assert result.latest_checkpoint == str(model_dir / "checkpoint_20")
    assert list((model_dir / "train").glob("events.*"))
    assert list((model_dir / "validation").glob("events.*"))
    saved = json.loads((model_dir / "train_config.json").read_text())
    assert saved["num_microbatches"] == 2 and saved["model"]["d_model"] == 32

    # A run killed after its last checkpoint leaves records past it (here: steps 21-22);
    # resuming from the checkpoint drops them from metrics.jsonl and TensorBoard.
    stale = MetricsWriter(config.model_dir)
    for step in (21, 22):
        stale.write(step, "train", {"loss": -1.0})
    stale.close()
    # Training again to the same step restores the latest checkpoint and stops there.
    again = train(config)
    assert again.resumed_from_step == 20 and again.step == 20
    assert max(r["step"] for r in read_metrics(config.model_dir)) == 20
    assert max(tensorboard_steps(model_dir / "train")) == 20
    for before, after in zip(jax.tree.leaves(result.params), jax.tree.leaves(again.params)):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))

    # A new run from this one's checkpoint continues its step count (T5X semantics) and
    # starts from the trained parameters.
    warm = make_config(
        model_dir=str(model_dir.parent / "warm"),
        initial_checkpoint_path=config.model_dir,
        train_steps=22,
        num_partitions=2,
        log_period=1,
        checkpoint_period=0,
    )
    with pytest.raises(SetupError, match="TRAIN_STEPS=20 is not beyond"):
        train(dataclasses.replace(warm, train_steps=20))
    continued = train(warm)
    assert continued.resumed_from_step is None and continued.step == 22
    assert [r["step"] for r in continued.history] == [21, 22]
    assert continued.history[0]["loss"] < losses[0] - 0.3


def test_a_non_finite_step_is_never_evaluated(make_config, monkeypatch):
    """Step 2 reports NaN: evaluation (due every step) must not see its params."""
    step_fn_of = TrainProgram.step_fn

    def poisoned(program):
        step_fn = step_fn_of(program)

        def run(state, batch):
            state, metrics = step_fn(state, batch)
            if int(state.step) == 2:
                metrics = {**metrics, "finite": jnp.zeros((), jnp.float32)}
            return state, metrics

        return run

    monkeypatch.setattr(TrainProgram, "step_fn", poisoned)
    evaluated = []
    config = make_config(
        train_steps=3, log_period=0, checkpoint_period=0, eval_period=1, validation_steps=0
    )
    with pytest.raises(NonFiniteError, match="at step 2"):
        train(config, eval_fn=lambda params, step: evaluated.append(step) or {})
    assert evaluated == [1]


def test_run_from_a_step_n_checkpoint_resumes_without_it(make_config, tmp_path):
    """Base step 2: stopped at 4, the initial checkpoint removed, resumed to 6, the run equals
    one straight from 2 to 6 (same data position and learning rates)."""
    source = make_config(model_dir=str(tmp_path / "source"), train_steps=2, log_period=0)
    train(source)
    warm = dict(
        initial_checkpoint_path=source.model_dir,
        train_steps=6,
        learning_rate_schedule="rsqrt",
        warmup_steps=3,
        log_period=1,
        checkpoint_period=1000,  # the last step only
    )
    straight = train(make_config(model_dir=str(tmp_path / "straight"), **warm))
    resumed_dir = str(tmp_path / "resumed")
    first = train(make_config(model_dir=resumed_dir, **{**warm, "train_steps": 4}))
    assert first.latest_checkpoint == str(tmp_path / "resumed" / "checkpoint_4")
    Path(source.model_dir).rename(tmp_path / "moved")  # e.g. resumed on another machine

    resumed = train(make_config(model_dir=resumed_dir, **warm))
    assert resumed.resumed_from_step == 4 and resumed.step == 6
    records = [r for r in straight.history if r["step"] > 4]
    assert [r["step"] for r in resumed.history] == [r["step"] for r in records] == [5, 6]
    for key in ("loss", "learning_rate"):
        assert [r[key] for r in resumed.history] == [r[key] for r in records], key
    for before, after in zip(jax.tree.leaves(straight.params), jax.tree.leaves(resumed.params)):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
