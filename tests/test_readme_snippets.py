"""README's ```python blocks, run in order in one namespace with `EPOCHS = 2`, each checked.

A block runs as a user pastes it after the blocks above it. The only change is the line
``EPOCHS = <n>`` (README says so), set to TEST_EPOCHS. After each block the check of its
section asserts what the block must have produced; a block under a section without a
check fails the test, so a new snippet comes with its check.
"""

import pathlib
import re

import numpy as np
import pytest
from scipy import special

from tf_robust_distill import estimators

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
EPOCHS_LINE = re.compile(r"^EPOCHS = \d+$", re.MULTILINE)
TEST_EPOCHS = 2


def snippets(text):
    """[(heading, code)] of every ```python block of `text`, in order; heading is the
    title of the nearest ``##``/``###`` heading above the block."""
    blocks, heading = [], None
    for match in re.finditer(r"^(#{2,3}) ([^\n]+)$|^```python\n(.*?)^```$", text, re.S | re.M):
        if match.group(1):
            heading = match.group(2).strip()
        else:
            blocks.append((heading, match.group(3)))
    return blocks


def losses(model):
    """The per-epoch training losses of the model's last `fit`."""
    return np.asarray(model.history.history["loss"])


def assert_trained(*models):
    for model in models:
        loss = losses(model)
        assert len(loss) == TEST_EPOCHS and np.all(np.isfinite(loss)), loss
        assert loss[-1] < loss[0], f"{type(model).__name__} loss did not decrease: {loss}"


def worst_class_recall(labels, probs):
    return min(np.mean(probs[labels == c].argmax(1) == c) for c in np.unique(labels))


def check_quickstart(ns):
    assert_trained(ns["teacher"], ns["student"])
    probs = ns["labels"].probs(temperature=3.0)
    np.testing.assert_allclose(probs, special.softmax(ns["labels"].logits / 3.0, axis=1), 1e-5)


def check_setup(ns):
    assert ns["x_train"].shape == (600, 64) and 0.0 <= ns["x"].min() <= ns["x"].max() <= 1.0
    assert set(np.unique(ns["y_val"])) == set(range(ns["C"]))
    assert ns["net"](8).output_shape == (None, ns["C"])


def check_standard(ns):
    assert_trained(ns["teacher"], ns["student"], ns["kd"])
    np.testing.assert_allclose(
        ns["teacher_probs"], special.softmax(ns["teacher_logits"] / 3.0, axis=1), atol=1e-6
    )


def check_robust(ns):
    assert_trained(ns["balanced"])
    multipliers = np.asarray(ns["robust"].multipliers.current())
    assert multipliers.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.ptp(multipliers) > 1e-3, f"λ stayed uniform: {multipliers}"
    logged = [ns["history"].history[f"lambda_{j}"][-1] for j in range(ns["C"])]
    np.testing.assert_allclose(logged, multipliers, rtol=1e-5)


def check_baselines(ns):
    assert_trained(ns["group_dro"])
    q = np.asarray(ns["group_dro"].multipliers.current())
    assert q.sum() == pytest.approx(1.0, abs=1e-5) and np.ptp(q) > 0.0, q
    # Post-shift starts from the teacher (uniform weights) and keeps its best iterate.
    shift = ns["post_shift"]
    assert shift.class_weights_.sum() == pytest.approx(1.0)
    assert shift.validation_worst_class_accuracy_ >= worst_class_recall(
        ns["y_val"], ns["val_probs"]
    )
    shifted = np.log(ns["val_probs"]) + np.log(shift.class_weights_)
    np.testing.assert_array_equal(ns["predictions"], shifted.argmax(1))


def check_soteacher(ns):
    model = ns["soteacher"]
    assert_trained(model)
    # Every example is seen once per epoch, wherever Keras's shuffle puts it.
    np.testing.assert_array_equal(np.asarray(model.prediction_count), TEST_EPOCHS)
    np.testing.assert_allclose(np.asarray(model.prediction_mean).sum(axis=1), 1.0, rtol=1e-5)
    linear = [epoch / TEST_EPOCHS for epoch in range(TEST_EPOCHS)]  # λ_CR(t) = t / T (§4)
    np.testing.assert_allclose(model.history.history["consistency_weight"], linear)


def check_fitnets(ns):
    assert_trained(ns["fitnets"])
    assert ns["features"].values.shape == (600, 256)
    assert ns["features"].values.min() >= 0.0  # the teacher's ReLU layer


def check_weighted(ns):
    model = ns["weighted"]
    assert_trained(model)
    weights = np.asarray(model.debiasing_weights.values)
    labeled = np.arange(len(ns["x_train"]))
    np.testing.assert_array_equal(weights[labeled], 1.0)
    # The last update (end of the last epoch) is the estimator on the final student.
    student_probs = {
        name: special.softmax(model.predict(ns[name], verbose=0), axis=1)
        for name in ("x_val", "x_unlabeled")
    }
    expected = estimators.debiasing_weights(
        ns["val_probs"],
        student_probs["x_val"],
        ns["y_val"],
        ns["probs_unlabeled"],
        student_probs["x_unlabeled"],
    )
    np.testing.assert_allclose(weights[ns["unlabeled"]], expected, rtol=1e-5, atol=1e-6)
    assert 0.0 <= expected.min() and expected.max() <= 1.0


def check_slam(ns):
    assert_trained(ns["slam"])
    unlabeled, probs = ns["unlabeled"], ns["probs_unlabeled"]
    alpha = ns["alpha"][unlabeled]
    assert 0.5 <= alpha.min() and alpha.max() <= 1.0
    k = ns["estimator"].k(probs)
    np.testing.assert_array_equal(ns["topk"][unlabeled].sum(axis=1), k)
    kth_largest = np.sort(probs, axis=1)[:, ::-1][np.arange(len(k)), k - 1]
    assert np.all(probs[ns["topk"][unlabeled] == 1] >= np.repeat(kth_largest, k))


CHECKS = {
    "Quickstart: `model.fit`": check_quickstart,
    "Every method with `model.fit`, on your model and your arrays": check_setup,
    "Standard distillation and Hinton KD": check_standard,
    "Balanced and robust students (worst-class accuracy)": check_robust,
    "Group DRO and post-shift baselines": check_baselines,
    "SoTeacher: a teacher trained for its students": check_soteacher,
    "FitNets": check_fitnets,
    "Weighted distillation with unlabeled examples": check_weighted,
    "SLaM: student-label mixing": check_slam,
}


def test_every_snippet_has_a_check_and_sets_epochs_first():
    blocks = snippets(README.read_text())
    assert [heading for heading, _ in blocks if heading not in CHECKS] == []
    assert sorted(CHECKS) == sorted({heading for heading, _ in blocks})
    assert EPOCHS_LINE.search(blocks[0][1]), "the first snippet must set EPOCHS"


def test_snippet_extraction_keeps_order_and_headings():
    text = "## A\n```python\na = 1\n```\n```bash\nls\n```\n### B\n```python\nb = 2\n```\n"
    assert snippets(text) == [("A", "a = 1\n"), ("B", "b = 2\n")]


@pytest.mark.slow
def test_readme_snippets_run_in_order_and_do_what_they_say(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything a snippet writes stays in the test's directory
    namespace = {"__name__": "readme"}
    for heading, code in snippets(README.read_text()):
        code = EPOCHS_LINE.sub(f"EPOCHS = {TEST_EPOCHS}", code)
        exec(compile(code, f"README.md ({heading})", "exec"), namespace)
        CHECKS[heading](namespace)
