"""Flags shared by the grid experiments (robust_distill, soteacher, unlabeled_distill).

Defined once here, so that one process (a test, a notebook) may import several
experiment modules.
"""

from absl import flags
from ml_collections import config_flags

CONFIG = config_flags.DEFINE_config_file(
    "config", None, "A config file and variant: configs/<experiment>.py[:variant]."
)
WORKDIR = flags.DEFINE_string(
    "workdir", None, "Directory of the grid: stored cells (cells/), runs/, summary.md."
)
REPORT_ONLY = flags.DEFINE_bool(
    "report_only", False, "Summarize the cells already stored in the workdir; train nothing."
)
REQUIRED = ["config", "workdir"]
