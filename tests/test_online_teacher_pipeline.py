"""The main job with ``student.online_teacher``: equal to cached labels without augmentation."""

import numpy as np
import pytest

from configs import distill as distill_config
from tf_robust_distill import pipeline


def _config(**overrides):
    config = distill_config.get_config("demo")
    config.dataset.imbalance_ratio = None
    config.train.epochs = 2
    config.verbose = 0
    config.student.objective = "kd"
    config.student.temperature = 4.0
    config.update_from_flattened_dict(overrides)
    return config


@pytest.mark.slow  # three whole jobs sharing one teacher
def test_online_student_equals_cached_without_augmentation_and_takes_train_overrides(tmp_path):
    teacher_dir = str(tmp_path / "teacher")
    runs = {
        name: pipeline.run(_config(**overrides), str(tmp_path / name), teacher_dir=teacher_dir)
        for name, overrides in {
            "cached": {},
            "online": {"student.online_teacher": True},
            "online_longer": {
                "student.online_teacher": True,
                "student.train_overrides": {"epochs": 3},
            },
        }.items()
    }
    cached, online = (runs[name].results["student"] for name in ("cached", "online"))
    for split in ("val", "test"):
        for key in ("accuracy", "nll", "ece"):
            np.testing.assert_allclose(online[split][key], cached[split][key], atol=1e-6)
    longer = runs["online_longer"].results["student"]
    assert longer["test"]["nll"] != pytest.approx(online["test"]["nll"], abs=1e-6)
