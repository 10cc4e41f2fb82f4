"""Settings for every test run, unit tests and notebooks alike (pytest loads this first).

Notebooks inherit the environment of the pytest process, so setting the variables here makes
nbval run every chapter at the `ci` scale unless the caller chose another scale on purpose.
"""

import os

os.environ.setdefault("EDU_GEN_SCALE", "ci")
os.environ.setdefault("MPLBACKEND", "Agg")
