"""mha.static.frames: pre-drawn pictures switched by jslinked controls, so that a
figure with a few discrete controls works on the static page."""

from __future__ import annotations

import base64
import io
import re

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from mha.static import NOTE, Choice, frames  # noqa: E402

COLOURS = {"red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255)}


def draw_colour(colour, size):
    """A plain figure of one colour; its pixel size says `size`."""
    fig = plt.figure(figsize=(size, 1), facecolor=np.array(COLOURS[colour]) / 255)
    return fig


def decoded(picture) -> Image.Image:
    src = re.search(r'src="data:image/png;base64,([^"]+)"', picture.value).group(1)
    return Image.open(io.BytesIO(base64.b64decode(src))).convert("RGB")


def build(**kwargs):
    controls = {
        "colour": Choice("colour", list(COLOURS), value="green"),
        "size": Choice("size", [1, 2], widget="toggle", names=["small", "large"]),
    }
    return frames(
        draw_colour, controls, alt="a {size} inch {colour} square", dpi=20, **kwargs
    )


def test_every_combination_shows_its_own_picture():
    box = build()
    assert set(box.pictures) == {(c, s) for c in range(3) for s in range(2)}
    for (c, s), picture in box.pictures.items():
        colour, size = list(COLOURS)[c], [1, 2][s]
        image = decoded(picture)
        assert image.size == (20 * size, 20)  # the size the drawing was asked for
        assert image.getpixel((5, 5)) == COLOURS[colour]
        assert f'alt="a {size} inch {colour} square"' in picture.value


def test_controls_are_jslinked_to_every_tab_of_their_level():
    box = build()
    colour, size = box.controls["colour"], box.controls["size"]
    assert isinstance(colour, widgets.SelectionSlider)
    assert isinstance(size, widgets.ToggleButtons)
    assert list(size.options) == ["small", "large"]
    (outer,) = box.tabs["colour"]
    inner = box.tabs["size"]
    assert len(outer.children) == 3 and list(outer.children) == inner
    assert all(len(tab.children) == 2 for tab in inner)
    assert len(box.links) == 1 + 3
    for link in box.links:
        assert link._model_name == "LinkModel"  # runs in the browser, not Python
        control, trait = link.source
        tab, tab_trait = link.target
        assert trait == "index" and tab_trait == "selected_index"
        level = "colour" if control is colour else "size"
        assert tab in box.tabs[level]
    # The starting picture is the one of the starting values.
    assert colour.index == outer.selected_index == 1  # "green"
    assert size.index == 0 and all(tab.selected_index == 0 for tab in inner)
    assert inner[1].children[0] is box.pictures[1, 0]


def test_the_note_says_what_works_on_the_page():
    box = build()
    assert NOTE in box.children[0].value
    assert "display: none" in box.children[0].value  # the tab bars are hidden
    assert "mha-frames" in box._dom_classes
    custom = build(note="Only three colours here.")
    assert "Only three colours here." in custom.children[0].value


def test_identical_pictures_are_stored_once():
    def same(colour, size):
        return draw_colour("red", 1)

    box = frames(
        same,
        {"colour": Choice("colour", list(COLOURS)), "size": Choice("size", [1, 2])},
        alt="red",
        dpi=20,
    )
    assert len({id(p) for p in box.pictures.values()}) == 1


def test_pyplot_figures_are_closed():
    plt.close("all")
    build()
    assert plt.get_fignums() == []


def test_dropdown_control():
    box = frames(
        draw_colour,
        {
            "colour": Choice("c", ["red", "blue"], widget="dropdown"),
            "size": Choice("s", [1]),
        },
        alt="{colour}",
        dpi=20,
    )
    assert isinstance(box.controls["colour"], widgets.Dropdown)


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: Choice("h", []), ValueError, ["non-empty", "Hint"]),
        (lambda: Choice("h", [1, 2], value=3), ValueError, ["value 3", "[1, 2]"]),
        (lambda: Choice("h", [1, 2], widget="knob"), ValueError, ["slider"]),
        (lambda: Choice("h", [1, 2], names=["a"]), ValueError, ["one name"]),
        (lambda: Choice("h", [1, "1"]), ValueError, ["distinct names"]),
        (lambda: Choice("", [1]), TypeError, ["label"]),
        (lambda: frames(draw_colour, [], alt=""), TypeError, ["dict", "Hint"]),
        (lambda: frames(draw_colour, {"colour": ["red"]}, alt=""), TypeError,
         ["Choice", "Hint"]),
        (lambda: frames(lambda colour: None, {"colour": Choice("c", ["red"])},
                        alt=""), TypeError, ["Figure", "return fig"]),
        (lambda: frames(draw_colour, {"colour": Choice("c", list(range(21))),
                                      "size": Choice("s", list(range(20)))}, alt=""),
         ValueError, ["420 pictures", "fewer options"]),
        (lambda: frames(draw_colour, {"colour": Choice("c", ["red", "blue"]),
                                      "size": Choice("s", [1])}, alt="", dpi=20,
                        max_bytes=100), ValueError, ["max_bytes", "Hint"]),
        (lambda: frames(draw_colour, {"colour": Choice("c", ["red"])}, alt="",
                        dpi=1), ValueError, ["dpi"]),
    ],
)  # fmt: skip
def test_bad_input_raises_clear_errors(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value), str(info.value)


def test_pictures_and_tabs_share_one_layout_and_style():
    box = build()
    pictures = list(box.pictures.values())
    tabs = [tab for level in box.tabs.values() for tab in level]
    assert len({id(p.layout) for p in pictures + tabs}) == 1
    assert len({id(p.style) for p in pictures}) == 1
