"""Helpers for the book's notebooks that work in the book build and in Colab."""

from __future__ import annotations

from typing import Any

from .i18n import known

__all__ = ["glue"]


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` so the page's prose can quote it.

    In the book build MyST-NB is installed and this calls ``myst_nb.glue``; the
    markdown then shows the value with a role such as ``{glue:text}`name:.2f```.
    Where MyST-NB is missing (Google Colab, a bare Jupyter install) there is nothing
    to glue into: the value is shown when ``display`` is true and ignored otherwise,
    so the same notebook runs everywhere.

    A string value is shown in the page's language when ``mha/locale`` has it
    (``"none"`` reads 无 in the Chinese edition); other strings stay as they are.

    Pass plain Python numbers (``tensor.item()``, ``float(x)``), not tensors: the
    glued text is the value's ``repr``, and a format spec such as ``:.2f`` only
    applies to a number.

    Args:
        name: A key unique within the notebook, used by the ``{glue:...}`` roles.
        value: Any object; its display representation is what gets stored.
        display: Also show the value in the cell's output.
    """
    if isinstance(value, str):
        value = known(value)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            try:
                from IPython.display import display as ipython_display
            except ImportError:  # plain Python, no IPython at all
                print(f"{name} = {value!r}")
            else:
                ipython_display(value)
        return
    myst_glue(name, value, display=display)
