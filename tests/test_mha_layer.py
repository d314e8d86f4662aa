"""MultiHeadAttention against torch.nn.MultiheadAttention: fixed cases and edge cases.

The randomised comparison over many shapes and masks is in test_mha_properties.py.
"""

from __future__ import annotations

import functools

import pytest
import tensors
import torch
from torch import nn

import mha

DTYPES = [torch.float32, torch.float64]


# These tests draw float32 unless they say otherwise.
randn = functools.partial(tensors.randn, dtype=torch.float32)


def pair(E=8, h=2, dtype=torch.float32, seed=0, **kwargs):
    """A torch layer with random (non-zero) biases, and an mha copy of it."""
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(E, h, dtype=dtype, **kwargs).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return mha.MultiHeadAttention.from_torch(theirs), theirs


def run_both(ours, theirs, query, key, value, **kwargs):
    """Outputs, weights and input gradients of both layers on the same inputs."""
    results = []
    for layer in (ours, theirs):
        inputs = [x.detach().clone().requires_grad_() for x in (query, key, value)]
        out, weights = layer(*inputs, **kwargs)
        loss = out.square().sum() + (0 if weights is None else weights.square().sum())
        loss.backward()
        results.append((out, weights, [x.grad for x in inputs]))
    return results


def assert_same(ours, theirs):
    torch.testing.assert_close(ours[0], theirs[0])
    if theirs[1] is None:
        assert ours[1] is None
    else:
        torch.testing.assert_close(ours[1], theirs[1])
    for g_ours, g_theirs in zip(ours[2], theirs[2], strict=True):
        torch.testing.assert_close(g_ours, g_theirs)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("kdim", "vdim"), [(None, None), (5, 7)])
def test_from_torch_and_to_torch_copy_every_weight(bias, kdim, vdim):
    ours, theirs = pair(bias=bias, kdim=kdim, vdim=vdim, batch_first=True)
    E = 8
    if theirs._qkv_same_embed_dim:
        w_q, w_k, w_v = theirs.in_proj_weight.split(E)
    else:
        w_q, w_k, w_v = theirs.q_proj_weight, theirs.k_proj_weight, theirs.v_proj_weight
    for proj, w in zip(
        (ours.q_proj, ours.k_proj, ours.v_proj), (w_q, w_k, w_v), strict=True
    ):
        assert torch.equal(proj.weight, w)
    assert torch.equal(ours.out_proj.weight, theirs.out_proj.weight)
    if bias:
        b_q, b_k, b_v = theirs.in_proj_bias.split(E)
        assert torch.equal(ours.q_proj.bias, b_q) and torch.equal(ours.v_proj.bias, b_v)
        assert torch.equal(ours.k_proj.bias, b_k)
        assert torch.equal(ours.out_proj.bias, theirs.out_proj.bias)
    else:
        assert all(p.bias is None for p in (ours.q_proj, ours.k_proj, ours.out_proj))
    back = ours.to_torch()
    assert back.state_dict().keys() == theirs.state_dict().keys()
    for name, value in theirs.state_dict().items():
        assert torch.equal(back.state_dict()[name], value), name
    # the copies are independent of the original
    with torch.no_grad():
        ours.q_proj.weight.add_(1.0)
    assert not torch.equal(ours.q_proj.weight, w_q)


def test_conversion_keeps_options_dtype_and_mode():
    theirs = nn.MultiheadAttention(
        6, 3, dropout=0.25, batch_first=False, dtype=torch.float64
    ).train()
    ours = mha.MultiHeadAttention.from_torch(theirs)
    assert (ours.embed_dim, ours.num_heads, ours.head_dim) == (6, 3, 2)
    assert ours.dropout == 0.25 and ours.batch_first is False and ours.training
    assert ours.q_proj.weight.dtype == torch.float64
    back = ours.eval().to_torch()
    assert back.dropout == 0.25 and back.batch_first is False and not back.training
    assert back.in_proj_weight.dtype == torch.float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("need_weights", [True, False])
def test_self_attention_with_both_masks_matches_torch(dtype, need_weights):
    ours, theirs = pair(dtype=dtype, batch_first=True)
    x = randn(3, 5, 8, dtype=dtype)
    kwargs = {
        "key_padding_mask": mha.padding_mask([5, 2, 4], 5),
        "attn_mask": mha.causal_mask(5),
        "need_weights": need_weights,
    }
    assert_same(*run_both(ours, theirs, x, x, x, **kwargs))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_attention_with_kdim_vdim_and_per_head_weights_matches_torch(dtype):
    ours, theirs = pair(dtype=dtype, batch_first=True, kdim=3, vdim=5)
    q, k, v = (
        randn(2, 4, 8, dtype=dtype),
        randn(2, 6, 3, seed=1, dtype=dtype),
        randn(2, 6, 5, seed=2, dtype=dtype),
    )
    assert_same(*run_both(ours, theirs, q, k, v, average_attn_weights=False))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sequence_first_layout_matches_torch(dtype):
    ours, theirs = pair(dtype=dtype)  # batch_first=False, PyTorch's default
    assert ours.batch_first is False
    x, mem = (
        randn(4, 2, 8, dtype=dtype),
        randn(6, 2, 8, seed=1, dtype=dtype),
    )  # (T, B, E)
    pad = mha.padding_mask([6, 3], 6)
    results = run_both(ours, theirs, x, mem, mem, key_padding_mask=pad)
    assert results[0][0].shape == (4, 2, 8)
    assert_same(*results)


@pytest.mark.parametrize("need_weights", [True, False])
def test_unbatched_inputs_match_torch(need_weights):
    ours, theirs = pair(E=6, h=3, batch_first=True)
    q, kv = randn(4, 6), randn(5, 6, seed=1)  # (T, E), (S, E)
    attn = torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(0)) < 0.3
    attn[..., 0] = False
    kwargs = {
        "key_padding_mask": mha.padding_mask([4], 5)[0],  # (S,)
        "attn_mask": attn,  # (h, T, S)
        "need_weights": need_weights,
        "average_attn_weights": False,
    }
    results = run_both(ours, theirs, q, kv, kv, **kwargs)
    assert results[0][0].shape == (4, 6)
    if need_weights:
        assert results[0][1].shape == (3, 4, 5)
    assert_same(*results)


@pytest.mark.parametrize(
    ("B", "T", "S", "E", "h"),
    [
        (1, 1, 1, 4, 2),  # one token
        (2, 1, 5, 4, 1),  # one query, one head
        (2, 3, 3, 4, 4),  # head_dim 1
        (1, 5, 2, 6, 3),  # query longer than key
        (3, 2, 7, 1, 1),  # E = 1
    ],
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_shapes_match_torch(B, T, S, E, h, dtype):
    ours, theirs = pair(E=E, h=h, dtype=dtype, batch_first=True)
    q, kv = randn(B, T, E, dtype=dtype), randn(B, S, E, seed=1, dtype=dtype)
    for need_weights in (True, False):
        results = run_both(ours, theirs, q, kv, kv, need_weights=need_weights)
        assert results[0][0].shape == (B, T, E)
        assert_same(*results)


def test_parameter_gradients_match_torch():
    ours, theirs = pair(batch_first=True, dtype=torch.float64)
    x = randn(2, 5, 8, dtype=torch.float64)
    for layer in (ours, theirs):
        out, _ = layer(x, x, x, attn_mask=mha.causal_mask(5))
        out.square().sum().backward()
    w_q, w_k, w_v = theirs.in_proj_weight.grad.split(8)
    b_q, b_k, b_v = theirs.in_proj_bias.grad.split(8)
    torch.testing.assert_close(ours.q_proj.weight.grad, w_q)
    torch.testing.assert_close(ours.k_proj.weight.grad, w_k)
    torch.testing.assert_close(ours.v_proj.weight.grad, w_v)
    torch.testing.assert_close(ours.q_proj.bias.grad, b_q)
    torch.testing.assert_close(ours.k_proj.bias.grad, b_k)
    torch.testing.assert_close(ours.v_proj.bias.grad, b_v)
    torch.testing.assert_close(ours.out_proj.weight.grad, theirs.out_proj.weight.grad)


@pytest.mark.parametrize("need_weights", [True, False])
def test_is_causal_alone_builds_the_causal_mask(need_weights):
    ours, theirs = pair(batch_first=True, dtype=torch.float64)
    x = randn(2, 5, 8, dtype=torch.float64)
    out, weights = ours(x, x, x, is_causal=True, need_weights=need_weights)
    # PyTorch needs the mask itself; is_causal is only a hint there
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        theirs(x, x, x, is_causal=True)
    expected, expected_w = theirs(
        x, x, x, attn_mask=mha.causal_mask(5), need_weights=need_weights
    )
    torch.testing.assert_close(out, expected)
    if need_weights:
        torch.testing.assert_close(weights, expected_w)
        assert torch.all(weights[:, mha.causal_mask(5)] == 0)


def test_is_causal_with_attn_mask_masks_the_union():
    ours, theirs = pair(batch_first=True, dtype=torch.float64)
    x = randn(1, 4, 8, dtype=torch.float64)
    band = torch.ones(4, 4, dtype=torch.bool).tril(-2)  # hide keys 2+ steps back
    out, _ = ours(x, x, x, attn_mask=band, is_causal=True)
    expected, _ = theirs(x, x, x, attn_mask=band | mha.causal_mask(4))
    torch.testing.assert_close(out, expected)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("need_weights", [True, False])
def test_mixed_float_and_boolean_masks_match_torch(need_weights):
    ours, theirs = pair(batch_first=True, dtype=torch.float64)
    x = randn(2, 5, 8, dtype=torch.float64)
    bias = randn(5, 5, seed=3, dtype=torch.float64)
    kwargs = {
        "attn_mask": bias,
        "key_padding_mask": mha.padding_mask([5, 3], 5),
        "need_weights": need_weights,
    }
    assert_same(*run_both(ours, theirs, x, x, x, **kwargs))


@pytest.mark.parametrize("need_weights", [True, False])
def test_fully_masked_rows_are_finite_forward_and_backward(need_weights):
    ours, theirs = pair(batch_first=True)
    x = randn(2, 3, 8, grad=True)
    pad = mha.padding_mask([0, 3], 3)  # sequence 0 is all padding
    attn = torch.zeros(3, 3, dtype=torch.bool)
    attn[1] = True  # and query 1 may attend nowhere
    out, weights = ours(
        x, x, x, key_padding_mask=pad, attn_mask=attn, need_weights=need_weights
    )
    assert torch.isfinite(out).all()
    # no key: zero attention, so the output is the output projection's bias
    bias = ours.out_proj.bias.detach().expand(3, 8)
    torch.testing.assert_close(out[0], bias)
    torch.testing.assert_close(out[1, 1], bias[0])
    if need_weights:
        assert torch.all(weights[0] == 0) and torch.all(weights[1, 1] == 0)
        torch.testing.assert_close(weights[1, 0].sum(), torch.tensor(1.0))
    out.square().sum().backward()
    assert torch.isfinite(x.grad).all()
    # PyTorch gives NaN on its materialised path (pytorch issues 41508, 160064)
    expected, _ = theirs(x, x, x, key_padding_mask=pad, attn_mask=attn)
    assert torch.isnan(expected[0]).all()
    torch.testing.assert_close(out[1, [0, 2]], expected[1, [0, 2]])


def test_fully_masked_rows_with_a_float_mask_are_finite():
    ours, _ = pair(batch_first=True)
    x = randn(1, 2, 8)
    attn = torch.zeros(2, 2)
    attn[0] = float("-inf")
    for need_weights in (True, False):
        out, _ = ours(x, x, x, attn_mask=attn, need_weights=need_weights)
        torch.testing.assert_close(out[0, 0], ours.out_proj.bias.detach())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("need_weights", [True, False])
def test_masks_in_half_precision_do_not_overflow(dtype, need_weights):
    ours, _ = pair(batch_first=True)
    x = randn(2, 5, 8)
    kwargs = {
        "key_padding_mask": mha.padding_mask([5, 0], 5),
        "attn_mask": mha.causal_mask(5),
        "need_weights": need_weights,
    }
    expected, _ = ours(x, x, x, **kwargs)
    out, _ = ours.to(dtype)(x.to(dtype), x.to(dtype), x.to(dtype), **kwargs)
    assert out.dtype == dtype and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), expected, atol=5e-2, rtol=5e-2)


def test_need_weights_false_uses_the_fused_path_and_agrees():
    ours, _ = pair(batch_first=True, dtype=torch.float64)
    x, mem = (
        randn(2, 4, 8, dtype=torch.float64),
        randn(2, 6, 8, seed=1, dtype=torch.float64),
    )
    pad = mha.padding_mask([6, 2], 6)
    materialised, weights = ours(x, mem, mem, key_padding_mask=pad)
    fused, none = ours(x, mem, mem, key_padding_mask=pad, need_weights=False)
    assert weights.shape == (2, 4, 6) and none is None
    torch.testing.assert_close(fused, materialised)


def test_self_attention_takes_the_fused_projection_and_agrees_with_separate_inputs():
    ours, _ = pair(batch_first=False, dtype=torch.float64)
    x = randn(5, 2, 8, dtype=torch.float64)
    same, _ = ours(x, x, x)  # query is key is value: one stacked matrix product
    separate, _ = ours(x, x.clone(), x.clone())
    torch.testing.assert_close(same, separate)


def test_multi_head_attention_function_is_the_layer_forward():
    ours, _ = pair(E=12, h=3, batch_first=True, dtype=torch.float64)
    q, kv = (
        randn(2, 4, 12, dtype=torch.float64),
        randn(2, 5, 12, seed=1, dtype=torch.float64),
    )
    pad = mha.padding_mask([5, 3], 5)
    weights = {
        "w_q": ours.q_proj.weight,
        "w_k": ours.k_proj.weight,
        "w_v": ours.v_proj.weight,
        "w_o": ours.out_proj.weight,
        "b_q": ours.q_proj.bias,
        "b_k": ours.k_proj.bias,
        "b_v": ours.v_proj.bias,
        "b_o": ours.out_proj.bias,
    }
    for need_weights in (True, False):
        for average in (True, False):
            kwargs = {
                "key_padding_mask": pad,
                "need_weights": need_weights,
                "average_attn_weights": average,
            }
            out, w = mha.multi_head_attention(
                q, kv, kv, num_heads=3, **weights, **kwargs
            )
            expected, expected_w = ours(q, kv, kv, **kwargs)
            torch.testing.assert_close(out, expected)
            if need_weights:
                torch.testing.assert_close(w, expected_w)
    # and it is the five steps, written out
    q_h = mha.split_heads(q @ weights["w_q"].T + weights["b_q"], 3)  # (B, h, T, d_k)
    k = mha.split_heads(kv @ weights["w_k"].T + weights["b_k"], 3)
    v = mha.split_heads(kv @ weights["w_v"].T + weights["b_v"], 3)
    attn, _ = mha.scaled_dot_product_attention(q_h, k, v, pad[:, None, None, :])
    by_hand = mha.merge_heads(attn) @ weights["w_o"].T + weights["b_o"]
    torch.testing.assert_close(by_hand, ours(q, kv, kv, key_padding_mask=pad)[0])


def test_multi_head_attention_without_biases():
    E = 4
    ws = {n: randn(E, E, seed=i) for i, n in enumerate(("w_q", "w_k", "w_v", "w_o"))}
    x = randn(1, 3, E, seed=9)
    out, _ = mha.multi_head_attention(x, x, x, num_heads=2, **ws)
    layer = mha.MultiHeadAttention(E, 2, bias=False)
    with torch.no_grad():
        for proj, n in zip(
            (layer.q_proj, layer.k_proj, layer.v_proj, layer.out_proj),
            ("w_q", "w_k", "w_v", "w_o"),
            strict=True,
        ):
            proj.weight.copy_(ws[n])
    torch.testing.assert_close(out, layer(x, x, x)[0])


def test_dropout_acts_in_training_only():
    layer = mha.MultiHeadAttention(8, 2, dropout=0.5)
    x = randn(2, 6, 8)
    layer.eval()
    eval_out, eval_w = layer(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(layer(x, x, x)[0], eval_out)  # deterministic
    layer.train()
    torch.manual_seed(0)
    train_out, train_w = layer(x, x, x, average_attn_weights=False)
    dropped = train_w == 0
    assert dropped.any() and not torch.allclose(train_out, eval_out)
    torch.testing.assert_close(train_w[~dropped], 2 * eval_w[~dropped])


def test_repr_names_the_head_split():
    text = repr(mha.MultiHeadAttention(12, 4))
    assert "num_heads=4" in text and "head_dim=3" in text and "q_proj" in text


def test_dropout_on_the_fused_path_acts_in_training_only():
    layer = mha.MultiHeadAttention(8, 2, dropout=0.5)
    x = randn(2, 6, 8)
    eval_out, _ = layer.eval()(x, x, x, need_weights=False)
    layer.train()
    torch.manual_seed(0)
    first, _ = layer(x, x, x, need_weights=False)
    torch.manual_seed(0)
    again, _ = layer(x, x, x, need_weights=False)
    torch.testing.assert_close(first, again)  # seeded, so reproducible
    assert torch.isfinite(first).all() and not torch.allclose(first, eval_out)
