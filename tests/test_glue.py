"""`mha.notebook.glue` uses MyST-NB when present and degrades quietly without it."""

from __future__ import annotations

import sys

import pytest

from mha.notebook import glue


def test_glue_hands_the_value_to_myst_nb(monkeypatch):
    seen = {}

    def fake_glue(name, value, display=True):
        seen.update(name=name, value=value, display=display)

    import myst_nb

    monkeypatch.setattr(myst_nb, "glue", fake_glue)
    glue("answer", 42)
    assert seen == {"name": "answer", "value": 42, "display": False}


@pytest.mark.parametrize("display, shown", [(False, ""), (True, "42")])
def test_without_myst_nb_it_only_shows_when_asked(monkeypatch, capsys, display, shown):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as in Colab: not installed
    monkeypatch.setitem(sys.modules, "IPython.display", None)  # plain Python
    glue("answer", 42, display=display)
    out = capsys.readouterr().out
    assert (shown in out) and (bool(out) == display)
