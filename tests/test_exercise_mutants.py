"""The catalogue of classic mistakes against exercises 01-05 (issue 15, part 2), run in CI.

`benchmarks/exercise_mutants.py` applies every catalogued mistake and correct variant
(`benchmarks/exercise_mistakes.py`) to the solution notebooks, in this process. Targets: the
graded tests take points off for EVERY mistake; the part's own self-check catches at least 90%
of them, each with an assertion message (not a bare AssertionError); no correct variant (another
algorithm, another dtype, the text's hints followed literally) fails any cell or graded test.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("exercise_mutants_for_ci", ROOT / "benchmarks" / "exercise_mutants.py")
mutants = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mutants  # dataclasses look their module up there
spec.loader.exec_module(mutants)


@pytest.fixture(scope="module")
def summary():
    return mutants.evaluate(log=lambda line: None)


def test_the_catalogue_has_the_issues_mistakes_and_six_per_exercise():
    entries = mutants.entries_for()
    mistakes = [e for e in entries if e["kind"] == "mistake"]
    for exercise in ("01_losses_as_likelihood", "02_manifold_learning", "03_autoencoders", "04_elbo", "05_vae", "06_cvae", "07_aae", "08_pixelcnn", "09_gan", "11_comparison"):
        assert sum(e["exercise"] == exercise for e in mistakes) >= 6, exercise
    names = {(e["function"], e["name"]) for e in mistakes}
    for function, words in [("pca", "transposed V"), ("lle_weights_one", "Gram matrix the wrong way"),
                            ("parzen_log_density", "h instead of h^2"), ("parzen_log_density", "distance not squared"),
                            ("kernel_covariance", "eigenvectors taken as rows"), ("shortest_paths", "loop starts at 1"),
                            ("kl_to_standard_normal", "sigma instead of sigma^2"), ("encoder_forward", "extra ReLU"),
                            ("kernel_covariance", "d = 0")]:
        assert any(f == function and words in name for f, name in names), (function, words)


def test_graded_tests_take_points_off_for_every_mistake(summary):
    missed = [(v.entry["exercise"], v.entry["function"], v.entry["name"]) for v in summary["verdicts"]
              if v.entry["kind"] == "mistake" and not v.caught_by_graded]
    assert not missed, f"mistakes that earn full marks: {missed}"
    assert summary["caught_by_graded"] == summary["mistakes"]


def test_a_forbidden_shortcut_loses_the_points_of_every_test_of_its_function(summary):
    """What the text forbids is enforced in every graded test of the function, not in one (issue 15)."""
    rules = [v for v in summary["verdicts"] if v.entry["kind"] == "mistake" and "every_test" in v.entry]
    assert len(rules) >= 5
    for v in rules:
        tests = [name for name, _ in mutants.graded_tests(v.entry["exercise"]) if name.startswith(v.entry["every_test"])]
        failed = {o.name for o in v.graded}
        assert len(tests) >= 1 and set(tests) <= failed, (v.entry["name"], v.entry["function"], set(tests) - failed)
        assert {o.kind for o in v.graded if o.name in tests} == {"not written from the formula"}, v.entry["name"]


def test_own_self_checks_catch_at_least_90_percent_with_a_message(summary):
    assert summary["caught_by_own_selfcheck"] >= 0.9 * summary["mistakes"], mutants.report(summary)
    bare = [(v.entry["function"], v.entry["name"]) for v in summary["verdicts"]
            if v.entry["kind"] == "mistake" and v.caught_by_own and "bare AssertionError" in v.own.message]
    assert not bare, f"caught by a self-check without a message: {bare}"


def test_no_correct_variant_is_rejected(summary):
    rejected = [(v.entry["exercise"], v.entry["function"], v.entry["name"]) for v in summary["verdicts"]
                if v.entry["kind"] == "correct" and v.rejected]
    assert not rejected, f"correct variants rejected: {rejected}"
    assert summary["correct_variants"] >= 15 and summary["correct_variants_rejected"] == 0
