"""Figures with a few discrete controls that work on the static page.

A Python callback (``interact``, ``observe``) needs a running kernel: on the published
book its slider moves and its figure does not. :func:`frames` avoids the kernel. It
draws the figure once for every combination of the controls' options when the
notebook runs, and lets the browser switch between those pictures:

- each picture is an ``<img>`` with alt text inside an ``ipywidgets.HTML``;
- the pictures sit in nested ``Tab`` widgets, one level per control, whose tab bars
  are hidden;
- each control (a slider, a dropdown or toggle buttons) has its ``index``
  ``jslink``-ed to the ``selected_index`` of every tab at its level.

A ``jslink`` runs in the browser, so the controls work in the static HTML book (from
the widget state the build saved), in Jupyter and in Colab, on ipywidgets 8 and on
7.7.1 (Colab's, which has ``Tab`` and ``jslink`` but no ``Stack``).

Chapters call :func:`frames` with a drawing function that returns a matplotlib
``Figure`` and a :class:`Choice` per control::

    frames(draw_split, {"num_heads": Choice("heads h", [1, 2, 4, 8, 16], value=4)},
           alt="The (4, 16) matrix split into {num_heads} heads.")

Identical pictures are stored once, and the total size is capped (``max_bytes``), so
a page stays light: choose few options per control.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._validate import check_int
from .i18n import tr

if TYPE_CHECKING:  # ipywidgets is optional: imported inside frames()
    import ipywidgets

__all__ = ["NOTE", "Choice", "figure_png", "frames"]

NOTE = (
    "Works on this page, no Python needed: the controls switch between pictures "
    "drawn when the page was built."
)
WIDGETS = ("slider", "dropdown", "toggle")
MAX_FRAMES = 400
# Hides the tab bars (the controls replace them) and the tab frame, for the class
# names of ipywidgets 7 (phosphor: p-) and 8 (lumino: lm-).
_STYLE = """<style>
.mha-frames .p-TabBar, .mha-frames .lm-TabBar { display: none !important; }
.mha-frames .widget-tab-contents, .mha-frames .p-TabPanel-stackedPanel,
.mha-frames .lm-TabPanel-stackedPanel { border: none !important;
  padding: 0 !important; background: transparent !important; }
.mha-frames .widget-tab { margin: 0 !important; }
.mha-frames .mha-frame img { max-width: 100%; height: auto; display: block; }
.mha-frames .mha-static-note { font-size: 0.9em; margin: 0 0 4px 0; }
</style>"""


@dataclass(frozen=True)
class Choice:
    """One control of :func:`frames`: a label and the values it offers.

    Args:
        label: What the control is called on the page (its description).
        options: The values passed to the drawing function, in order.
        value: The value shown first (default: the first option).
        widget: ``"slider"``, ``"dropdown"`` or ``"toggle"`` (toggle buttons).
        names: What the control shows for each option (default ``str(option)``).
    """

    label: str
    options: Sequence[Any]
    value: Any = None
    widget: str = "slider"
    names: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise TypeError(
                f"Choice needs a label (a non-empty str), got {self.label!r}."
            )
        options = list(self.options) if not isinstance(self.options, str) else []
        if not options:
            raise ValueError(
                f"Choice {self.label!r} needs a non-empty sequence of options, got "
                f"{self.options!r}. Hint: Choice('heads h', [1, 2, 4])."
            )
        object.__setattr__(self, "options", tuple(options))
        if self.value is not None and self.value not in self.options:
            raise ValueError(
                f"Choice {self.label!r}: value {self.value!r} is not one of its "
                f"options {list(self.options)}."
            )
        if self.widget not in WIDGETS:
            raise ValueError(
                f"Choice {self.label!r}: widget must be one of {', '.join(WIDGETS)}; "
                f"got {self.widget!r}."
            )
        if self.names is not None and len(self.names) != len(self.options):
            raise ValueError(
                f"Choice {self.label!r}: {len(self.names)} names for "
                f"{len(self.options)} options; give one name per option."
            )
        if len(set(self.labels)) != len(self.options):
            raise ValueError(
                f"Choice {self.label!r}: two options show the same name "
                f"({self.labels}); give them distinct names."
            )

    @property
    def start(self) -> int:
        """Index of the option shown first."""
        return 0 if self.value is None else self.options.index(self.value)

    @property
    def labels(self) -> list[str]:
        """What the control shows for each option (words in the page's language,
        numbers as they are)."""
        names = self.options if self.names is None else self.names
        return [_words(str(name)) for name in names]


def _words(text: str) -> str:
    """``text`` in the page's language when it has words to translate."""
    return tr(text) if any(c.isalpha() and c.isascii() for c in text) else text


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    """A figure as PNG bytes, drawn once, reduced to a 256-colour palette.

    The palette makes a typical chart about three times smaller with no visible
    loss (its colours come from one colormap and a few line colours). The figure's
    own facecolor is kept (white by default): pictures stay opaque in dark mode.
    """
    from PIL import Image  # a dependency of matplotlib

    canvas = FigureCanvasAgg(figure)  # draws off-screen, whatever the backend
    figure.set_dpi(dpi)
    canvas.draw()
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    buffer = io.BytesIO()
    rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
        buffer, "PNG", optimize=True
    )
    return buffer.getvalue()


def _check_controls(controls: object) -> dict[str, Choice]:
    if not isinstance(controls, Mapping) or not controls:
        raise TypeError(
            "frames expects the controls as a non-empty dict {argument name: "
            f"Choice(...)}}, got {type(controls).__name__}. Hint: "
            "frames(draw, {'num_heads': Choice('heads h', [1, 2, 4])}, alt=...)."
        )
    for name, choice in controls.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(
                f"control names must be the drawing function's argument names, "
                f"got {name!r}."
            )
        if not isinstance(choice, Choice):
            raise TypeError(
                f"control {name!r} must be an mha.static.Choice, got "
                f"{type(choice).__name__}. Hint: Choice('label', [option, ...])."
            )
    return dict(controls)


def _draw(draw: Callable[..., Any], values: dict[str, Any], dpi: int) -> bytes:
    figure = draw(**values)
    if not isinstance(figure, Figure):
        plt.close("all")
        raise TypeError(
            f"the drawing function must return a matplotlib Figure, got "
            f"{type(figure).__name__} for {values}. Hint: end it with `return fig` "
            f"instead of plt.show()."
        )
    try:
        return figure_png(figure, dpi)
    finally:
        plt.close(figure)  # a pyplot figure would otherwise be shown by the cell


def _control(choice: Choice) -> ipywidgets.Widget:
    import ipywidgets as widgets

    common = {
        "options": choice.labels,
        "index": choice.start,
        "description": _words(choice.label),
        "style": {"description_width": "initial"},
    }
    if choice.widget == "dropdown":
        return widgets.Dropdown(**common)
    if choice.widget == "toggle":
        return widgets.ToggleButtons(**common)
    width = max(300, 30 * len(choice.options) + 12 * len(choice.label))
    return widgets.SelectionSlider(
        **common, layout=widgets.Layout(width=f"{min(width, 560)}px")
    )


def frames(
    draw: Callable[..., Figure],
    controls: Mapping[str, Choice],
    *,
    alt: str | Callable[..., str],
    note: str = NOTE,
    dpi: int = 100,
    max_bytes: int = 2_500_000,
) -> ipywidgets.VBox:
    """Controls over pre-drawn pictures that work on the static page.

    ``draw(**values)`` is called once for every combination of the options of
    ``controls`` (a dict from ``draw``'s argument names to :class:`Choice`) and must
    return a matplotlib ``Figure``; each becomes a PNG with alt text ``alt`` (a
    format string over the argument names, or a function of them). Moving a control
    shows the picture of the new combination, in the browser, with no kernel.

    Returns:
        A ``VBox``: the note, the controls, the pictures. It also has ``.controls``
        (name -> widget), ``.tabs`` (name -> the ``Tab`` widgets at that level),
        ``.links`` (the ``jslink`` objects) and ``.pictures`` (combination of option
        indices -> the ``HTML`` widget shown for it).

    Raises:
        TypeError: ``draw`` is not callable or returns no Figure; a control is not a
            :class:`Choice`.
        ValueError: too many combinations (over 400) or pictures over ``max_bytes``
            in all; ``dpi`` out of range.
    """
    import ipywidgets as widgets

    if not callable(draw):
        raise TypeError(f"frames expects a drawing function, got {draw!r}.")
    controls = _check_controls(controls)
    hint = "use 20 to 300; the default is 100."
    check_int("dpi", dpi, minimum=20, hint=hint)
    if dpi > 300:
        raise ValueError(
            f"dpi must be an int between 20 and 300; got dpi={dpi}. Hint: {hint}"
        )
    names = list(controls)
    sizes = [len(controls[n].options) for n in names]
    total = int(np.prod(sizes))
    if total > MAX_FRAMES:
        raise ValueError(
            f"frames would draw {total} pictures ({' x '.join(map(str, sizes))} "
            f"options), more than {MAX_FRAMES}. Hint: offer fewer options per "
            f"control on the static page."
        )

    pictures: dict[tuple[int, ...], widgets.HTML] = {}
    shared: dict[str, widgets.HTML] = {}  # identical <img> tags are stored once
    # One Layout and one style for all pictures and tabs, those of the first picture:
    # ipywidgets 8 would save a model of each (about 1 kB) per widget in the page.
    shares: dict[str, Any] = {}
    stored = 0
    for combo in itertools.product(*(range(n) for n in sizes)):
        values = {n: controls[n].options[i] for n, i in zip(names, combo, strict=True)}
        png = _draw(draw, values, dpi)
        text = alt(**values) if callable(alt) else tr(alt).format(**values)
        tag = (
            f'<div class="mha-frame"><img alt="{html.escape(text)}" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode()}"></div>'
        )
        if tag not in shared:
            stored += len(tag)
            if stored > max_bytes:
                raise ValueError(
                    f"the pictures take more than max_bytes={max_bytes:,} bytes "
                    f"after {len(shared) + 1} of {total}. Hint: fewer options, a "
                    f"smaller figure or a lower dpi (now {dpi})."
                )
            picture = shared[tag] = widgets.HTML(value=tag, **shares)
            shares = shares or {"layout": picture.layout, "style": picture.style}
        pictures[combo] = shared[tag]

    tabs: dict[str, list[widgets.Tab]] = {n: [] for n in names}

    def level(depth: int, prefix: tuple[int, ...]) -> widgets.Widget:
        if depth == len(names):
            return pictures[prefix]
        name = names[depth]
        tab = widgets.Tab(
            children=[level(depth + 1, (*prefix, i)) for i in range(sizes[depth])],
            layout=shares["layout"],
        )
        for i, label in enumerate(controls[name].labels):
            tab.set_title(i, label)
        tab.selected_index = controls[name].start
        tabs[name].append(tab)
        return tab

    figure_area = level(0, ())
    made = {n: _control(controls[n]) for n in names}
    links = [
        widgets.jslink((made[n], "index"), (tab, "selected_index"))
        for n in names
        for tab in tabs[n]
    ]
    header = widgets.HTML(
        value=f'{_STYLE}<p class="mha-static-note">{html.escape(tr(note))}</p>'
    )
    box = widgets.VBox([header, *made.values(), figure_area])
    box.add_class("mha-frames")
    box.controls, box.tabs, box.links, box.pictures = made, tabs, links, pictures
    return box
