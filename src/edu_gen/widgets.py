"""Interactive explorers: sliders that redraw a figure, with a static picture as the fallback.

One function, `explore(draw, **sliders)`::

    def draw(bandwidth=0.3, num_samples=100):
        ...                                   # build a figure with edu_gen.plot
        return fig

    widgets.explore(draw, bandwidth=(0.05, 1.0, 0.05), num_samples=(10, 500, 10))

How it behaves where:

- **Jupyter, JupyterLab, Colab, VS Code** (a live kernel with ipywidgets): one slider per
  argument and the figure under them, redrawn whenever a slider moves.
- **The built book and other saved notebooks**: the page has a picture either way. The cell
  produces ONE output that carries two representations: the widget, and a PNG of the figure
  at the default values. A front end that can show widgets shows the widget (the book's pages
  do, from the widget state saved when the book was executed: the sliders appear, and the
  figure drawn at the defaults is inside it); one that cannot (GitHub, nbviewer, a kernel-less
  viewer) falls back to the PNG. No kernel is needed to see the figure, only to move it.
- **Plain Python** (a script, or a notebook without ipywidgets): no sliders; `explore` returns
  the figure drawn at the default values, which a notebook displays as usual.

The figure is drawn as a PNG and placed into an `ipywidgets.Output` directly (its ``outputs``
trait), not captured from the kernel's display messages, so the same code works in a live
kernel, under nbclient (the book build, nbval) and in the unit tests.

Introduced in Chapter 2 (Manifold learning): the Parzen bandwidth explorer.
"""

from __future__ import annotations

import base64
import inspect
import io
from dataclasses import dataclass
from typing import Any, Callable

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from edu_gen._checks import number

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True)
class Slider:
    """One numeric slider: from `low` to `high` in steps of `step`, starting at `value`.

    Attributes:
        name: the argument of `draw` the slider sets.
        low, high, step, value: finite numbers of any numeric kind (Python, NumPy, 0-d tensor),
            stored as Python ints (integer kinds) or floats; low < high, step > 0,
            low <= value <= high.

    Raises:
        TypeError: a bound that is not a number (bool included).
        ValueError: a NaN or infinite bound, low >= high, step <= 0, or value outside [low, high].
    """

    name: str
    low: float
    high: float
    step: float
    value: float

    def __post_init__(self):
        name = self.name
        for part in ("low", "high", "step", "value"):
            object.__setattr__(self, part, number(getattr(self, part), f"slider {name!r}: {part}", "a finite number",
                                                  integer=None))
        low, high, step, value = self.low, self.high, self.step, self.value
        if not low < high or not step > 0:
            raise ValueError(f"slider {name!r}: need low < high and step > 0, got low={low}, high={high}, step={step}")
        if not low <= value <= high:
            raise ValueError(f"slider {name!r}: the starting value {value} is outside [{low}, {high}]")

    @property
    def is_integer(self) -> bool:
        return all(isinstance(v, int) and not isinstance(v, bool) for v in (self.low, self.high, self.step, self.value))


def _default_of(draw: Callable, name: str):
    parameter = inspect.signature(draw).parameters.get(name)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    return parameter.default


def parse_slider(draw: Callable, name: str, spec) -> Slider:
    """A `Slider` from ``(low, high, step)`` or ``(low, high, step, value)``.

    Without a value, the slider starts at the default of `draw`'s argument of that name, or at
    `low` when the argument has no default.

    Args:
        draw: the drawing function. name: one of its arguments. spec: the tuple.

    Raises:
        TypeError: draw has no argument `name`, or a bound is not a number (bool included).
        ValueError: spec is not a 3- or 4-tuple, or its numbers are inconsistent (see `Slider`).
    """
    parameters = inspect.signature(draw).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if name not in parameters and not takes_any:
        raise TypeError(f"draw() has no argument {name!r}; its arguments are {list(parameters)}")
    if not isinstance(spec, (tuple, list)) or len(spec) not in (3, 4):
        raise ValueError(f"slider {name!r}: expected (low, high, step) or (low, high, step, value), got {spec!r}")
    low, high, step = spec[:3]
    value = spec[3] if len(spec) == 4 else _default_of(draw, name)
    value = low if value is None else value
    # Slider checks the numbers: any numeric kind becomes a Python int or float; bool, NaN, inf refused
    return Slider(name, low, high, step, value)


def figure_png(fig: Figure, dpi: int = 100) -> str:
    """The figure as a base64-encoded PNG (what a notebook's image/png output holds).

    Args:
        fig: a matplotlib Figure. dpi: its resolution.

    Raises:
        AttributeError: fig is not a Figure (it has no ``savefig``).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _draw(draw: Callable, values: dict[str, Any]) -> Figure:
    fig = draw(**values)
    if not isinstance(fig, Figure):
        raise TypeError(f"draw() must return a matplotlib Figure (edu_gen.plot functions do), got {type(fig).__name__}")
    return fig


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where widgets can live), False in plain Python or IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class Explorer:
    """Sliders, the figure they control, and the static picture at the default values.

    Attributes:
        sliders: name -> ipywidgets slider.
        output: the ipywidgets.Output that shows the current figure.
        box: the whole widget (sliders above the output).
        static_png: base64 PNG of the figure at the default values.
    """

    def __init__(self, draw: Callable, sliders: list[Slider], dpi: int = 100):
        import ipywidgets

        self.draw, self.dpi = draw, dpi
        self.sliders = {}
        for s in sliders:
            kind = ipywidgets.IntSlider if s.is_integer else ipywidgets.FloatSlider
            self.sliders[s.name] = kind(value=s.value, min=s.low, max=s.high, step=s.step, description=s.name,
                                        continuous_update=False, style={"description_width": "initial"})
        self.output = ipywidgets.Output()
        self.box = ipywidgets.VBox([*self.sliders.values(), self.output])
        self.static_png = self.redraw()
        for slider in self.sliders.values():
            slider.observe(lambda change: self.redraw(), names="value")

    def values(self) -> dict[str, Any]:
        """The sliders' current values.

        Returns:
            name -> value (int or float).
        """
        return {name: slider.value for name, slider in self.sliders.items()}

    def redraw(self) -> str:
        """Draw at the sliders' current values and show the result in the output; returns the PNG.

        Returns:
            The base64 PNG of the figure drawn.

        Raises:
            TypeError: draw does not return a matplotlib Figure.
        """
        fig = _draw(self.draw, self.values())
        png = figure_png(fig, self.dpi)
        plt.close(fig)  # shown through the output only, never again by the inline backend
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": png, "text/plain": f"<Figure: {self.values()}>"}},)
        return png

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.box._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data = dict(data or {})
        data["image/png"] = self.static_png  # the picture for front ends without widgets
        return data


def explore(draw: Callable[..., Figure], **sliders) -> Explorer | Figure:
    """Sliders for the arguments of `draw`, and the figure it returns, redrawn as they move.

    Args:
        draw: a function of keyword arguments that returns a matplotlib Figure.
        **sliders: one per argument to vary, ``name=(low, high, step)`` or
            ``name=(low, high, step, value)``; integers give an integer slider. Arguments without
            a slider keep their defaults.

    Returns:
        In a Jupyter kernel with ipywidgets: an `Explorer`, which a notebook displays as the
        sliders and the live figure (with a PNG at the defaults for viewers without widgets).
        Elsewhere: the Figure drawn at the default values.

    Raises:
        TypeError, ValueError: as `parse_slider` for each slider; ValueError: no slider given;
            TypeError: draw does not return a Figure.
    """
    if not sliders:
        raise ValueError("give at least one slider, e.g. explore(draw, bandwidth=(0.05, 1.0, 0.05))")
    parsed = [parse_slider(draw, name, spec) for name, spec in sliders.items()]
    if _in_kernel():
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            pass
        else:
            return Explorer(draw, parsed)
    fig = _draw(draw, {s.name: s.value for s in parsed})
    plt.close(fig)  # returned, and displayed once by whoever shows the return value
    return fig
