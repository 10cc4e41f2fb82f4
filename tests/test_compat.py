import subprocess
import sys

import pytest
import torch

from edu_gen import _compat


def test_torchvision_pieces_the_book_uses_work():
    grid = _compat.make_grid(torch.rand(6, 1, 28, 28), nrow=3, padding=2)
    assert grid.shape == (3, 2 * 28 + 3 * 2, 3 * 28 + 4 * 2)
    to_float = _compat.transforms.Compose(
        [_compat.transforms.ToImage(), _compat.transforms.ToDtype(torch.float32, scale=True)]
    )
    image = to_float(torch.full((1, 4, 4), 255, dtype=torch.uint8))
    assert image.dtype == torch.float32 and torch.all(image == 1.0)
    assert hasattr(_compat.datasets, "MNIST") and hasattr(_compat.datasets, "FashionMNIST")


def test_missing_operators_raise_torchvisions_own_error():
    if not _compat.OPERATORS_MISSING:
        pytest.skip("torch and torchvision match here: the compiled operators load normally")
    try:
        _compat.torchvision.ops.nms(torch.rand(3, 4), torch.rand(3), 0.5)
    except RuntimeError as error:
        assert "Couldn't load custom C++ ops" in str(error)
    else:
        raise AssertionError("nms ran although torchvision's compiled operators are missing")


def test_only_compat_imports_torchvision():
    from pathlib import Path

    import edu_gen

    package = Path(edu_gen.__file__).parent
    offenders = [
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if p.name != "_compat.py" and any(
            line.strip().startswith(("import torchvision", "from torchvision")) for line in p.read_text().splitlines()
        )
    ]
    assert offenders == [], f"import torchvision through edu_gen._compat, not directly in {offenders}"


def test_compat_import_works_in_a_fresh_interpreter():
    # A fresh process: the import order that a notebook sees, with nothing imported before.
    code = "from edu_gen._compat import torchvision, make_grid; import torch; print(make_grid(torch.zeros(2,1,4,4)).shape)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "torch.Size([3, 8, 14])" in out.stdout
