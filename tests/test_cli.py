import subprocess
import sys

import pytest

from edu_gen import cli


def test_info_prints_versions_and_folders(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for field in ("torch", "torchvision", "device", "scale", "data", "checkpoints"):
        assert field in out


def test_data_describes_both_splits(capsys):
    assert cli.main(["data", "--name", "digits"]) == 0
    out = capsys.readouterr().out
    assert "digits train: images (1437, 1, 28, 28)" in out and "digits test: images (360, 1, 28, 28)" in out


def test_the_console_command_is_installed():
    out = subprocess.run([sys.executable, "-m", "edu_gen.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "info" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "edu_gen.cli", "frobnicate"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


@pytest.mark.parametrize("option", ["--timeout", "--cell-timeout", "--memory-mb", "--total-memory-mb", "--disk-mb"])
def test_grade_refuses_a_limit_that_is_not_positive_before_writing_anything(tmp_path, capsys, option):
    (tmp_path / "submissions" / "ada").mkdir(parents=True)
    value = "0" if option.endswith("-mb") else "-1"
    assert cli.main(["grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"), option, value]) == 1
    error = capsys.readouterr().err
    assert f"{option} must be a positive number, got {float(value) if 'timeout' in option else int(value)!r}" in error, error
    assert not (tmp_path / "out").exists()
