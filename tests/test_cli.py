import subprocess
import sys

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
