"""README's `make demo` table and its "The main job" paragraph, against what the job writes.

The table's numbers come from one 40-epoch run (README says so); what is checked here is
that the table is the job's table (rows, columns, format, `reporting.markdown_table`
re-rendering it character for character), that its numbers obey what the metrics are,
and that `results.json` holds every key README names.
"""

import json
import pathlib
import re

import numpy as np
import pytest

from configs import distill as distill_config
from tf_robust_distill import pipeline
from tf_robust_distill.reporting.tables import TABLE_METRICS, markdown_table

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
ROLES, SPLITS = ("teacher", "student"), ("val", "test")


def section(text, title):
    """The text of the ``## title`` section, up to the next ``##`` heading."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def demo_output(text):
    """README's printed demo table and agreement line, as the job prints them."""
    match = re.search(
        r"^\| model \|.*?\n\nteacher-student top-1 agreement: [^\n]*\n",
        section(text, "The two commands"),
        re.S | re.M,
    )
    assert match, "README's section 'The two commands' lacks the demo table"
    return match.group(0)


def results_from_table(table):
    """{role: {split: {key: value}}, 'agreement': {split: value}} read from the table."""
    lines = table.splitlines()
    results = {role: {} for role in ROLES}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        role, split, *cells = [cell.strip() for cell in line.strip("|").split("|")]
        row = zip(TABLE_METRICS, cells, strict=True)
        results[role][split] = {key: float(cell) for (key, _), cell in row}
    agreement = re.search(r"agreement: val ([\d.]+), test ([\d.]+)", table)
    results["agreement"] = {"val": float(agreement.group(1)), "test": float(agreement.group(2))}
    return results


def main_job_keys(text):
    """The per-split keys README's "The main job" paragraph names for results.json."""
    paragraph = section(text, "The main job")
    named = paragraph[paragraph.index("validation and test halves") : paragraph.index("agreement")]
    return re.findall(r"`(\w+)`", named)


def test_readme_demo_table_is_the_jobs_table_with_consistent_numbers():
    table = demo_output(README.read_text())
    results = results_from_table(table)
    assert markdown_table(results) == table
    for role in ROLES:
        assert sorted(results[role]) == sorted(SPLITS)
        for split in SPLITS:
            row = results[role][split]
            # min recall <= mean of the k lowest recalls <= mean recall, all in [0, 1].
            worst = (row["worst1_accuracy"], row["worstk_accuracy"], row["balanced_accuracy"])
            assert 0.0 <= worst[0] <= worst[1] <= worst[2] <= 1.0
            assert 0.0 <= row["accuracy"] <= 1.0 and 0.0 <= row["ece"] <= 1.0
            assert row["nll"] > 0.0
    # Top-1 agreement a = P(teacher = student) bounds the gap between their accuracies.
    for split in SPLITS:
        gap = abs(results["teacher"][split]["accuracy"] - results["student"][split]["accuracy"])
        assert gap <= 1.0 - results["agreement"][split] + 1e-4


def test_readme_names_the_table_metrics_among_the_results_keys():
    keys = main_job_keys(README.read_text())
    assert {key for key, _ in TABLE_METRICS} <= set(keys)
    assert "per_class_recall" in keys


@pytest.mark.slow
def test_demo_results_json_holds_what_readme_names(tmp_path):
    """The demo config, 1 epoch: results.json's keys, and results.md is README's layout."""
    config = distill_config.get_config("demo")
    config.train.epochs = 1
    config.verbose = 0
    pipeline.run(config, str(tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    num_classes = results["dataset"]["num_classes"]
    for role in ROLES:
        for split in SPLITS:
            split_results = results[role][split]
            assert set(main_job_keys(README.read_text())) <= set(split_results)
            recall = np.asarray(split_results["per_class_recall"])
            assert recall.shape == (num_classes,)
            assert split_results["worst1_accuracy"] == pytest.approx(recall.min())
            assert split_results["balanced_accuracy"] == pytest.approx(recall.mean())
    assert set(results["agreement"]) == set(SPLITS)
    assert results["config"]["train"]["epochs"] == 1
    written = (tmp_path / "results.md").read_text()
    assert written == markdown_table(results)
    readme_rows = [line.split("|")[1:3] for line in demo_output(README.read_text()).splitlines()]
    written_rows = [line.split("|")[1:3] for line in written.splitlines()]
    assert readme_rows[:6] == written_rows[:6]  # header, rule and the (role, split) rows
