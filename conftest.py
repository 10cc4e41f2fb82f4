"""Settings for every test run, unit tests and notebooks alike (pytest loads this first).

Notebooks inherit the environment of the pytest process, so setting the variables here makes
nbval run every chapter at the `ci` scale unless the caller chose another scale on purpose.
"""

import os

os.environ.setdefault("EDU_GEN_SCALE", "ci")
os.environ.setdefault("MPLBACKEND", "Agg")

# Property-based tests (Hypothesis): fewer examples in CI and by default, many more on demand:
#   HYPOTHESIS_PROFILE=thorough pytest tests/
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", max_examples=40, print_blob=True)
    _hypothesis_settings.register_profile("default", max_examples=60)
    _hypothesis_settings.register_profile("thorough", max_examples=1000)
    _hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))
except ImportError:  # the library's tests need it (requirements.txt); notebooks do not
    pass


def pytest_collection_modifyitems(config, items):
    """Mark every Hypothesis test `property`, so that the time they add to the suite can be measured on its
    own: ``pytest -m property --durations=0`` (and ``-m "not property"`` for the rest)."""
    import pytest

    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.property)
