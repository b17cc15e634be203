"""Markdown tables: the table of one run's results, and any header and rows."""

TABLE_METRICS = (
    ("accuracy", "acc"),
    ("balanced_accuracy", "bal. acc"),
    ("worst1_accuracy", "worst-1"),
    ("worstk_accuracy", "worst-k"),
    ("ece", "ECE"),
    ("nll", "NLL"),
)
"""(key of a split's results, column label) of `markdown_table`, in column order."""


def markdown_rows(header, rows):
    """A markdown table from a header and rows of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown_table(results):
    """One row per model and split: accuracy, balanced, worst-1, worst-k, ECE, NLL.

    Args:
      results: the dict of `tf_robust_distill.pipeline`: ``results[role][split][key]``
        for role in (teacher, student) and split in (val, test), and optionally
        ``results["agreement"][split]``, written below the table.
    """
    header = ["model", "split", *(label for _, label in TABLE_METRICS)]
    rows = [
        [role, split, *(f"{results[role][split][key]:.4f}" for key, _ in TABLE_METRICS)]
        for role in ("teacher", "student")
        for split in ("val", "test")
        if split in results.get(role, {})
    ]
    table = markdown_rows(header, rows)
    if "agreement" in results:
        agreement = results["agreement"]
        table += (
            "\nteacher-student top-1 agreement: "
            + ", ".join(f"{split} {agreement[split]:.4f}" for split in ("val", "test"))
            + "\n"
        )
    return table
