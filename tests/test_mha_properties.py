"""Property-based comparison of mha.MultiHeadAttention with torch.nn.MultiheadAttention.

Hypothesis draws sizes, options and masks; each example copies one random torch layer
into mha and compares outputs, returned weights and input gradients with
``torch.testing.assert_close`` at its default tolerances, in float32 and float64.

PyTorch returns NaN for a query row whose keys are all masked (mha returns zeros), so
the mask strategy keeps at least one key per row; test_mha_layer.py tests the fully
masked rows on their own.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import mha

SETTINGS = settings(max_examples=300, deadline=None)
ATTN_MASKS = [None, "causal", "is_causal", "bool2d", "bool3d", "float2d", "float3d"]


@dataclass
class Case:
    B: int
    T: int
    S: int
    E: int
    h: int
    kdim: int | None
    vdim: int | None
    self_attention: bool
    bias: bool
    batch_first: bool
    dtype: torch.dtype
    attn: str | None
    padding: str | None
    need_weights: bool
    average: bool
    seed: int


@st.composite
def cases(draw) -> Case:
    h = draw(st.integers(1, 4))
    E = h * draw(st.integers(1, 4))
    T = draw(st.integers(1, 6))
    self_attention = draw(st.booleans())
    S = T if self_attention else draw(st.integers(1, 6))
    other_dim = st.one_of(st.none(), st.integers(1, 9))
    kdim, vdim = (None, None) if self_attention else (draw(other_dim), draw(other_dim))
    return Case(
        B=draw(st.integers(1, 3)),
        T=T,
        S=S,
        E=E,
        h=h,
        kdim=kdim,
        vdim=vdim,
        self_attention=self_attention,
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        dtype=draw(st.sampled_from([torch.float32, torch.float64])),
        attn=draw(st.sampled_from(ATTN_MASKS)),
        padding=draw(st.sampled_from([None, "bool", "float"])),
        need_weights=draw(st.booleans()),
        average=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def build(case: Case):
    """The two layers, the inputs and the keyword arguments for each, from a Case."""
    g = torch.Generator().manual_seed(case.seed)
    torch.manual_seed(case.seed)
    theirs = nn.MultiheadAttention(
        case.E,
        case.h,
        bias=case.bias,
        batch_first=case.batch_first,
        kdim=case.kdim,
        vdim=case.vdim,
        dtype=case.dtype,
    ).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=case.dtype) * 0.5)
    ours = mha.MultiHeadAttention.from_torch(theirs)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=case.dtype)

    B, T, S, h = case.B, case.T, case.S, case.h
    kdim, vdim = case.kdim or case.E, case.vdim or case.E
    layout = (lambda n, d: (B, n, d)) if case.batch_first else (lambda n, d: (n, B, d))
    query = randn(*layout(T, case.E))
    if case.self_attention:
        key = value = query
    else:
        key, value = randn(*layout(S, kdim)), randn(*layout(S, vdim))

    # Masks. Padding and causal masks never hide key 0; random masks may, so rows
    # they would leave empty get key 0 back (PyTorch gives NaN for empty rows).
    hidden = torch.zeros(B, h, T, S, dtype=torch.bool)
    lengths = torch.randint(1, S + 1, (B,), generator=g)
    pad = mha.padding_mask(lengths, S) if case.padding else None
    if pad is not None:
        hidden |= pad[:, None, None, :]
    attn = None
    if case.attn in ("causal", "is_causal"):
        attn = mha.causal_mask(T, S)
        hidden |= attn
    elif case.attn is not None:
        three_d = case.attn.endswith("3d")
        shape = (B * h, T, S) if three_d else (T, S)
        drop = torch.rand(shape, generator=g) < 0.4
        drop4 = drop.view(B, h, T, S) if three_d else drop.view(1, 1, T, S)  # a view
        empty = (hidden | drop4).all(dim=-1)  # (B, h, T)
        drop4[..., 0] &= ~(empty if three_d else empty.any(dim=0).any(dim=0))
        attn = drop
        if case.attn.startswith("float"):
            attn = torch.randn(shape, generator=g, dtype=case.dtype).masked_fill(
                drop, float("-inf")
            )
    if pad is not None and case.padding == "float":
        pad = mha.to_additive(pad, case.dtype)

    common = {
        "key_padding_mask": pad,
        "need_weights": case.need_weights,
        "average_attn_weights": case.average,
    }
    if case.attn == "is_causal":  # mha builds the mask; PyTorch must be given it
        ours_kwargs = common | {"is_causal": True}
        theirs_kwargs = common | {"attn_mask": attn, "is_causal": True}
    else:
        ours_kwargs = theirs_kwargs = common | {"attn_mask": attn}
    return ours, theirs, (query, key, value), ours_kwargs, theirs_kwargs


def forward_backward(layer, inputs, self_attention, kwargs):
    if self_attention:
        x = inputs[0].detach().clone().requires_grad_()
        leaves, args = [x], (x, x, x)
    else:
        leaves = [t.detach().clone().requires_grad_() for t in inputs]
        args = tuple(leaves)
    out, weights = layer(*args, **kwargs)
    loss = out.sin().sum() + (0 if weights is None else (weights * weights).sum())
    loss.backward()
    return out, weights, [leaf.grad for leaf in leaves]


@pytest.mark.filterwarnings("ignore::UserWarning")
@SETTINGS
@given(case=cases())
def test_layer_matches_torch_outputs_weights_and_input_grads(case):
    ours, theirs, inputs, ours_kwargs, theirs_kwargs = build(case)
    out, weights, grads = forward_backward(
        ours, inputs, case.self_attention, ours_kwargs
    )
    ref, ref_weights, ref_grads = forward_backward(
        theirs, inputs, case.self_attention, theirs_kwargs
    )
    assert torch.isfinite(ref).all()  # the strategy avoided PyTorch's NaN rows
    torch.testing.assert_close(out, ref)
    if case.need_weights:
        expected_shape = (
            (case.B, case.T, case.S)
            if case.average
            else (case.B, case.h, case.T, case.S)
        )
        assert weights.shape == expected_shape
        torch.testing.assert_close(weights, ref_weights)
    else:
        assert weights is None and ref_weights is None
    truths = float64_grads(theirs, inputs, case, theirs_kwargs)
    for g_ours, g_ref, truth in zip(grads, ref_grads, truths, strict=True):
        assert_grad_close(g_ours, g_ref, truth)


def float64_grads(theirs, inputs, case, kwargs):
    """PyTorch's input gradients computed in float64: the truth to within 1e-12."""
    layer = copy.deepcopy(theirs).double()
    inputs = tuple(t.double() for t in inputs)
    kwargs = {
        k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v
        for k, v in kwargs.items()
    }
    return forward_backward(layer, inputs, case.self_attention, kwargs)[2]


def assert_grad_close(ours, ref, truth):
    """Our gradients equal PyTorch's under assert_close's default tolerances, or,
    in float32 only, are at least as accurate as PyTorch's.

    Both float32 results are roundings of the same float64 truth. Where gradients
    are sums of terms of size ~10, each carries errors of a few 1e-5, so the two can
    sit slightly more than the default atol of 1e-5 apart while both are fine. Then
    ours must be within twice PyTorch's own distance from the truth.
    """
    try:
        torch.testing.assert_close(ours, ref)
    except AssertionError:
        if ours.dtype != torch.float32:
            raise
        our_error = (ours.double() - truth).abs().max().item()
        torch_error = (ref.double() - truth).abs().max().item()
        assert our_error <= 2 * torch_error, (
            f"float32 input gradients: ours are {our_error:.2e} from the float64 "
            f"truth, PyTorch's {torch_error:.2e}"
        )


@pytest.mark.filterwarnings("ignore::UserWarning")
@SETTINGS
@given(case=cases())
def test_layer_matches_torch_in_inference_mode(case):
    # Without autograd PyTorch may take its native fast path: compare with that too.
    ours, theirs, inputs, ours_kwargs, theirs_kwargs = build(case)
    with torch.inference_mode():
        out, weights = ours(*inputs, **ours_kwargs)
        ref, ref_weights = theirs(*inputs, **theirs_kwargs)
    torch.testing.assert_close(out, ref)
    if case.need_weights:
        torch.testing.assert_close(weights, ref_weights)
