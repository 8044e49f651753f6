"""The completion marker and its settings fingerprint."""

from __future__ import annotations

import json

import pytest

from instructrec_jax.ablation import arms as arms_lib
from tests.ablation.helpers import small_config


def test_a_finished_arm_is_done_only_under_the_same_fingerprint(tmp_path):
    (run, *_) = arms_lib.arm_runs(small_config(tmp_path))
    assert not arms_lib.is_done(run, "abc")  # nothing there yet
    run.metrics_path.parent.mkdir(parents=True)
    run.metrics_path.write_text("{}")
    marker = {"fingerprint": "abc", "settings": {}, "status": "started"}
    (run.model_dir / arms_lib.MARKER_FILE).write_text(json.dumps(marker))
    assert not arms_lib.is_done(run, "abc")  # started, not finished: resumes
    (run.model_dir / arms_lib.MARKER_FILE).write_text(json.dumps({**marker, "status": "done"}))
    assert arms_lib.is_done(run, "abc")
    # Changed settings under an arm's name are refused, not mixed into its MODEL_DIR.
    with pytest.raises(ValueError, match="other settings"):
        arms_lib.is_done(run, "def")
    assert arms_lib.fingerprint({"a": 1, "b": 2}) == arms_lib.fingerprint({"b": 2, "a": 1})


def test_a_validation_report_is_part_of_the_fingerprint_and_test_keeps_old_ones(tmp_path):
    import dataclasses

    config = small_config(tmp_path)
    assert "report_split" not in arms_lib.evaluation_settings(config)  # old arms stay done
    valid = dataclasses.replace(config, report_split="valid")
    assert arms_lib.evaluation_settings(valid)["report_split"] == "valid"
    assert arms_lib.evaluation_settings(valid) != arms_lib.evaluation_settings(config)
