"""edu_gen.widgets: slider parsing, the live explorer and the static fallback."""

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from edu_gen import plot, widgets

calls = []


def draw(bandwidth=0.3, num_samples=100, title="x"):
    calls.append((bandwidth, num_samples))
    fig, ax = plt.subplots()
    return plot.curves([0, 1], {"line": [0, bandwidth]}, ax=ax, title=f"{title} {num_samples}")


@pytest.fixture(autouse=True)
def fresh():
    calls.clear()
    yield
    plt.close("all")


def test_sliders_start_at_the_default_of_draw_or_at_the_given_value():
    assert widgets.parse_slider(draw, "bandwidth", (0.05, 1.0, 0.05)).value == 0.3
    assert widgets.parse_slider(draw, "bandwidth", (0.05, 1.0, 0.05, 0.5)).value == 0.5
    slider = widgets.parse_slider(draw, "num_samples", (10, 500, 10))
    assert slider.is_integer and slider.value == 100


@pytest.mark.parametrize("name, spec, message", [
    ("bandwith", (0.1, 1.0, 0.1), "no argument 'bandwith'"),
    ("bandwidth", (0.1, 1.0), r"expected \(low, high, step\)"),
    ("bandwidth", (1.0, 0.1, 0.1), "need low < high"),
    ("bandwidth", (0.1, 1.0, 0.1, 2.0), "outside"),
    ("bandwidth", ("a", 1.0, 0.1), r"slider 'bandwidth': low must be a finite number, got 'a' \(str\)"),
    ("bandwidth", (0.1, True, 0.1), "high must be a finite number, got True"),
    ("bandwidth", (0.1, float("inf"), 0.1), "high must be a finite number, got inf"),
])
def test_bad_slider_specifications_are_refused(name, spec, message):
    with pytest.raises((TypeError, ValueError), match=message):
        widgets.parse_slider(draw, name, spec)


def test_outside_a_kernel_explore_returns_the_figure_at_the_defaults():
    result = widgets.explore(draw, bandwidth=(0.05, 1.0, 0.05), num_samples=(10, 500, 10, 250))
    assert isinstance(result, Figure)
    assert calls == [(0.3, 250)]
    assert plt.get_fignums() == []                  # closed: shown once, by whoever displays it


def test_explore_needs_a_slider_and_draw_must_return_a_figure():
    with pytest.raises(ValueError, match="at least one slider"):
        widgets.explore(draw)
    with pytest.raises(TypeError, match="must return a matplotlib Figure"):
        widgets.explore(lambda bandwidth=0.3: None, bandwidth=(0.1, 1.0, 0.1))


def test_in_a_kernel_the_explorer_redraws_when_a_slider_moves(monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setattr(widgets, "_in_kernel", lambda: True)
    explorer = widgets.explore(draw, bandwidth=(0.05, 1.0, 0.05), num_samples=(10, 500, 10))
    assert isinstance(explorer, widgets.Explorer)
    assert calls == [(0.3, 100)]
    first = explorer.output.outputs[0]["data"]["image/png"]
    explorer.sliders["bandwidth"].value = 0.8
    assert calls[-1] == (0.8, 100)
    assert explorer.output.outputs[0]["data"]["image/png"] != first
    assert explorer.static_png == first              # the fallback stays at the defaults
    assert plt.get_fignums() == []


def test_the_explorer_offers_the_widget_and_a_png_fallback(monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setattr(widgets, "_in_kernel", lambda: True)
    explorer = widgets.explore(draw, bandwidth=(0.05, 1.0, 0.05))
    bundle = explorer._repr_mimebundle_()
    assert widgets.WIDGET_VIEW in bundle and bundle[widgets.WIDGET_VIEW]["model_id"] == explorer.box.model_id
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")


def test_slider_numbers_of_any_numeric_kind_become_python_numbers():
    import numpy as np
    import torch

    slider = widgets.parse_slider(draw, "num_samples", (np.int64(10), torch.tensor(500), 10, np.int32(250)))
    assert slider.is_integer and (slider.low, slider.high, slider.value) == (10, 500, 250)
    slider = widgets.parse_slider(draw, "bandwidth", (np.float32(0.25), 1.0, torch.tensor(0.25)))
    assert not slider.is_integer and type(slider.low) is float and slider.step == 0.25
