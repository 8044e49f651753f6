"""The train loop's profiler window: which steps it traces, and that the trace is written."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from instructrec_jax.training.profiler import StepProfiler, train_profiler


def _run_steps(profiler: StepProfiler, steps: range) -> list[bool]:
    """Drive ``profiler`` like the loop does; return whether it was tracing during each step."""
    tracing = []
    step_fn = jax.jit(lambda x: jnp.tanh(x) @ x)
    value = jnp.ones((8, 8))
    try:
        for step in steps:
            profiler.before_step(step)
            tracing.append(profiler.active)
            value = step_fn(value)
            profiler.after_step(step, value)
    finally:
        profiler.stop()
    return tracing


def _traces(folder: Path) -> list[Path]:
    return sorted(folder.glob("plugins/profile/*/*.xplane.pb"))


def test_the_window_traces_exactly_its_steps_and_writes_a_trace(tmp_path):
    profiler = StepProfiler(str(tmp_path), first_step=2, num_steps=2)
    assert _run_steps(profiler, range(1, 6)) == [False, True, True, False, False]
    assert (profiler.first_step, profiler.traced_until) == (2, 3) and not profiler.active
    assert len(_traces(tmp_path)) == 1


def test_a_window_cut_short_by_the_last_step_is_still_written(tmp_path):
    profiler = StepProfiler(str(tmp_path), first_step=4, num_steps=10)
    assert _run_steps(profiler, range(1, 6)) == [False, False, False, True, True]
    assert (profiler.first_step, profiler.traced_until) == (4, 5) and not profiler.active
    assert len(_traces(tmp_path)) == 1


def test_off_or_outside_the_run_nothing_is_traced(tmp_path):
    assert not any(_run_steps(StepProfiler(str(tmp_path), None, 3), range(1, 4)))
    # A resumed run that starts after the window never traces.
    assert not any(_run_steps(StepProfiler(str(tmp_path), 2, 3), range(6, 8)))
    assert _traces(tmp_path) == []


def test_the_train_profiler_writes_under_model_dir_train(tmp_path):
    profiler = train_profiler(str(tmp_path), first_step=2, num_steps=1)
    assert profiler.log_dir == str(tmp_path / "train")
    assert profiler.first_step == 2


@pytest.mark.parametrize(("first_step", "num_steps"), [(0, 3), (2, 0)])
def test_a_bad_window_is_rejected(tmp_path, first_step, num_steps):
    with pytest.raises(ValueError, match="profile"):
        StepProfiler(str(tmp_path), first_step, num_steps)


@pytest.mark.parametrize(("field", "value"), [("profile_first_step", 0), ("profile_steps", 0)])
def test_train_config_names_a_bad_profile_field(field, value):
    from instructrec_jax.models.config import T5Config
    from instructrec_jax.training.config import TrainConfig

    with pytest.raises(ValueError, match=f"TrainConfig.{field} must be >= 1"):
        TrainConfig(
            model_dir="/tmp/unused",
            mixture_or_task_name="unused",
            task_feature_lengths={"inputs": 8, "targets": 4},
            train_steps=1,
            batch_size=1,
            model=T5Config.preset("tiny"),
            **{field: value},
        )
