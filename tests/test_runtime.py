import random
from pathlib import Path

import numpy as np
import pytest
import torch

from edu_gen import runtime


def test_device_is_cpu_without_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert runtime.device() == torch.device("cpu")


def test_device_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.device() == torch.device("cuda")


def test_device_falls_back_to_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert runtime.device() == torch.device("mps")


def test_seed_everything_repeats_every_generator():
    def draw():
        g = runtime.seed_everything(123)
        return random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g).item()

    first, second = draw(), draw()
    assert first == second
    assert len(set(first[:3])) == 3  # Python, NumPy and torch: three different generators
    assert first[3] == first[2]  # the returned generator starts where torch's global one does


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True, None])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        runtime.seed_everything(bad)


def test_scale_defaults_to_book(monkeypatch):
    monkeypatch.delenv("EDU_GEN_SCALE", raising=False)
    assert runtime.scale() == "book"


@pytest.mark.parametrize("value", ["ci", "book", "full", " CI "])
def test_scale_reads_the_environment(monkeypatch, value):
    monkeypatch.setenv("EDU_GEN_SCALE", value)
    assert runtime.scale() == value.strip().lower()


def test_unknown_scale_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("EDU_GEN_SCALE", "huge")
    with pytest.raises(ValueError, match=r"'huge'.*ci, book, full"):
        runtime.scale()


def test_pick_follows_the_scale(monkeypatch):
    for name, expected in [("ci", 1), ("book", 15), ("full", 100)]:
        monkeypatch.setenv("EDU_GEN_SCALE", name)
        assert runtime.pick(ci=1, book=15, full=100) == expected


def test_pick_needs_all_three_scales():
    with pytest.raises(TypeError):
        runtime.pick(ci=1, book=2)  # full is missing


def test_data_root_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("EDU_GEN_DATA", raising=False)
    assert runtime.data_root().parts[-2:] == (".cache", "edu_gen")
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))
    assert runtime.data_root() == tmp_path


def test_cache_root_is_its_own_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("EDU_GEN_CACHE", raising=False)
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path / "data"))  # a read-only shared data folder is not the cache
    assert runtime.cache_root() == Path.home() / ".cache" / "edu_gen"
    monkeypatch.setenv("EDU_GEN_CACHE", "~/models")
    assert runtime.cache_root() == Path.home() / "models"  # ~ is expanded
    monkeypatch.setenv("EDU_GEN_DATA", "~/data")
    assert runtime.data_root() == Path.home() / "data"


def test_setup_prints_one_status_line(monkeypatch, capsys):
    monkeypatch.setenv("EDU_GEN_SCALE", "ci")
    rt = runtime.setup(seed=7)
    line = capsys.readouterr().out.strip()
    assert "\n" not in line
    for part in (f"torch {torch.__version__}", f"device {rt.device}", "scale ci", "seed 7"):
        assert part in line
    assert rt.seed == 7 and rt.scale == "ci"
    assert torch.rand(1, generator=rt.generator).item() == torch.rand(1, generator=torch.Generator().manual_seed(7)).item()


def test_setup_can_be_quiet(monkeypatch, capsys):
    monkeypatch.setenv("EDU_GEN_SCALE", "ci")
    runtime.setup(seed=1, quiet=True)
    assert capsys.readouterr().out == ""


def test_setup_fails_early_on_a_bad_scale(monkeypatch):
    monkeypatch.setenv("EDU_GEN_SCALE", "fast")
    with pytest.raises(ValueError, match="EDU_GEN_SCALE"):
        runtime.setup()


def test_allocator_tuning_applies_on_glibc_linux():
    import platform
    import sys

    applied = runtime.tune_glibc_allocator()
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert applied == on_glibc


def test_threads_one_per_parallel_test_worker_and_overridable(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("EDU_GEN_THREADS", raising=False)
        monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
        torch.set_num_threads(2)  # what a worker would otherwise start with
        assert runtime.set_threads() == 1 and torch.get_num_threads() == 1
        from threadpoolctl import threadpool_info

        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
        monkeypatch.setenv("EDU_GEN_THREADS", "2")
        assert runtime.set_threads() == 2 and torch.get_num_threads() == 2
        for bad in ("many", "0", "-1"):
            monkeypatch.setenv("EDU_GEN_THREADS", bad)
            with pytest.raises(ValueError, match="positive integer"):
                runtime.set_threads()
    finally:
        torch.set_num_threads(before)


def test_at_scale_reads_a_table_at_the_current_or_a_named_scale(monkeypatch):
    table = {"ci": 1, "book": 15, "full": 100}
    monkeypatch.setenv("EDU_GEN_SCALE", "ci")
    assert runtime.at_scale(table) == 1 and runtime.at_scale(table, "full") == 100
    monkeypatch.setenv("EDU_GEN_SCALE", "book")
    assert runtime.at_scale(table) == 15 and runtime.at_scale(table, "ci") == 1
    with pytest.raises(ValueError, match="scale must be one of ci, book, full, got 'huge'"):
        runtime.at_scale(table, "huge")
    monkeypatch.setenv("EDU_GEN_SCALE", "huge")
    with pytest.raises(ValueError, match="EDU_GEN_SCALE='huge' is not a scale"):
        runtime.at_scale(table)


def test_benchmark_result_reads_the_last_json_line(tmp_path, monkeypatch):
    record = runtime.benchmark_result("semi_supervised_mnist.txt")       # a committed result of this repository
    assert isinstance(record, dict) and {"test_error", "scale"} <= set(record)
    assert runtime.benchmark_result("no_such_benchmark.txt") is None
    # a package installed without the repository (Colab, pip) finds no results folder: None, not an error
    fake = tmp_path / "site-packages" / "edu_gen" / "runtime.py"
    fake.parent.mkdir(parents=True)
    monkeypatch.setattr(runtime, "__file__", str(fake))
    assert runtime.benchmark_result("semi_supervised_mnist.txt") is None
    # a file whose last line is not a JSON object is an error naming it
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "broken.txt").write_text('{"a": 1}\nnot json\n')
    monkeypatch.setattr(runtime, "__file__", str(tmp_path / "src" / "edu_gen" / "runtime.py"))
    with pytest.raises(ValueError, match="broken.txt: the last line is not a JSON object"):
        runtime.benchmark_result("broken.txt")
    (results / "good.txt").write_text('# header\n{"a": 1}\n')
    assert runtime.benchmark_result("good.txt") == {"a": 1}
