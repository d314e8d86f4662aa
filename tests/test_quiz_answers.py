"""Every quiz question's right answer is computed or proved here, not trusted.

A number question's answer is compared with the package's own computation; a choice
question's right option is the one a small computation below proves (each check
returns the id of the option it proved, after asserting that the other options are
false). A quiz whose "right" answer is wrong, or a question without a check, fails.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close
from torch.utils.flop_counter import FlopCounterMode

import mha
from mha import explorer as ex
from mha.blockwise import blockwise_attention, tensor_memory
from mha.kv_cache import (
    KVCache,
    cached_attention,
    causal_mask_bottom_right,
    kv_cache_bytes,
    repeat_kv,
)
from mha.quiz import (
    ChoiceQuestion,
    NumberQuestion,
    WrongValue,
    available_quizzes,
    load_quiz,
)
from mha.rope import apply_rope, rope_frequencies
from mha.toy import RepeatTask, mask_heads, masked_self_attention
from mha.window import sliding_window_mask, window_pairs

CHECKS: dict[tuple[str, str], Callable[[], object]] = {}


def check(chapter: str, question: str):
    """Register the function that computes or proves one question's answer."""

    def register(fn: Callable[[], object]) -> Callable[[], object]:
        CHECKS[chapter, question] = fn
        return fn

    return register


def n_params(module: nn.Module, prefixes: tuple[str, ...] = ("",)) -> int:
    return sum(
        p.numel() for n, p in module.named_parameters() if n.startswith(prefixes)
    )


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- 01 soft lookup -------------------------------------------------------------


@check("01_soft_lookup", "softmax-axis")
def _():
    scores = torch.randn(3, 5, generator=gen())  # (T, S) with T != S
    w = torch.softmax(scores, dim=0)
    assert_close(w.sum(dim=0), torch.ones(5))  # columns sum to 1
    assert not torch.allclose(w.sum(dim=-1), torch.ones(3))  # rows do not
    assert_close(w.sum(), torch.tensor(5.0))  # so the whole matrix sums to S
    return "columns"


@check("04_score", "unscaled-std")
def _():
    d_k = 64
    q = torch.randn(200_000, d_k, generator=gen(1))
    k = torch.randn(200_000, d_k, generator=gen(2))
    measured = (q * k).sum(dim=-1).std().item()
    assert abs(measured / math.sqrt(d_k) - 1) < 0.01  # the sampled std is sqrt(d_k)
    return math.sqrt(d_k)


@check("01_soft_lookup", "scale-in-heads")
def _():
    layer = mha.MultiHeadAttention(512, 8)
    q = torch.randn(1, 8, 3, layer.head_dim, generator=gen())
    k = torch.randn(1, 8, 4, layer.head_dim, generator=gen(1))
    raw = q @ k.transpose(-2, -1)
    assert layer.head_dim == 64
    assert_close(mha.attention_scores(q, k), raw / 8)  # sqrt(d_k) = 8
    assert not torch.allclose(mha.attention_scores(q, k), raw / math.sqrt(512))
    assert not torch.allclose(mha.attention_scores(q, k), raw / 64)
    return "sqrt-dk"


@check("01_soft_lookup", "output-size")
def _():
    Q, K, V = torch.randn(3, 2), torch.randn(4, 2), torch.randn(4, 5)
    return F.scaled_dot_product_attention(Q, K, V).numel()


@check("01_soft_lookup", "hard-lookup-gradient")
def _():
    K = torch.tensor([[2.0, -2.0], [2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0]])
    V = torch.tensor([[4.0, 0, 0], [2, 2, 0], [0, 2, 3], [0, 0, 4]])
    q = torch.tensor([0.3, 3.0], requires_grad=True)
    hard = V[(q @ K.T).argmax(), 0]
    assert not hard.requires_grad  # argmax cuts the graph
    nudged = V[((q.detach() + 0.01) @ K.T).argmax(), 0]
    assert nudged == hard  # and a small turn changes nothing
    soft = torch.softmax(q @ K.T / math.sqrt(2), -1) @ V
    soft[0].backward()
    assert q.grad.abs().sum() > 0  # the soft answer passes a gradient to q
    return "no-gradient"


# --- 02 split ---------------------------------------------------------------------


@check("02_split", "split-line")
def _():
    B, T, E, h = 2, 3, 8, 2
    d_k = E // h
    x = torch.arange(B * T * E).reshape(B, T, E)
    want = mha.split_heads(x, h)
    assert torch.equal(x.reshape(B, T, h, d_k).transpose(1, 2), want)
    assert not torch.equal(x.reshape(B, h, T, d_k), want)
    assert not torch.equal(x.reshape(B, T, d_k, h).permute(0, 3, 1, 2), want)
    return "reshape-transpose"


@check("02_split", "time-stride")
def _():
    x = torch.arange(48).reshape(2, 3, 8)
    return x.reshape(2, 3, 2, 4).transpose(1, 2).stride(2)


@check("02_split", "blind-test")
def _():
    def wrong_matches(shape: tuple[int, int, int], h: int) -> bool:
        B, T, E = shape
        x = torch.randn(*shape, generator=gen())
        return torch.equal(x.reshape(B, h, T, E // h), mha.split_heads(x, h))

    assert wrong_matches((2, 1, 8), 4)
    assert not wrong_matches((2, 5, 8), 4)
    assert not wrong_matches((2, 5, 8), 2)
    return "one-token"


@check("02_split", "merge-view")
def _():
    out = torch.randn(2, 4, 5, 3)  # (B, h, T, d_k), contiguous
    with pytest.raises(RuntimeError):
        out.transpose(1, 2).view(2, 5, 12)
    return "error"


# --- 03 project -------------------------------------------------------------------


@check("03_project", "blog-qkv-params")
def _():
    return n_params(mha.BlogMultiHeadAttention(512, 8), ("queries", "keys", "values"))


@check("03_project", "head-block")
def _():
    E, h = 16, 4
    d_k = E // h
    layer = mha.MultiHeadAttention(E, h)
    x = torch.randn(2, 5, E, generator=gen())
    block = layer.q_proj.weight[:d_k]  # head 0's rows
    with torch.no_grad():
        head0 = mha.split_heads(layer.q_proj(x), h)[:, 0]
        assert_close(head0, x @ block.T + layer.q_proj.bias[:d_k])
    return block.numel()


@check("03_project", "in-proj-rows")
def _():
    E = 8
    torch_mha = nn.MultiheadAttention(E, 2, batch_first=True)
    layer = mha.MultiHeadAttention.from_torch(torch_mha)
    W = torch_mha.in_proj_weight
    assert torch.equal(layer.k_proj.weight, W[E : 2 * E])
    assert not torch.equal(layer.k_proj.weight, W[:E])
    assert not torch.equal(layer.k_proj.weight, W[1::3][:E])
    return "middle"


@check("03_project", "zero-share")
def _():
    weight = mha.blog_to_standard(mha.BlogMultiHeadAttention(16, 4)).k_proj.weight
    return 100 * (weight == 0).float().mean().item()


@check("03_project", "x-at-w")
def _():
    linear = nn.Linear(6, 6)
    x = torch.randn(2, 6, generator=gen())
    with torch.no_grad():
        right, wrong = linear(x) - linear.bias, x @ linear.weight
    assert right.shape == wrong.shape and not torch.allclose(right, wrong)
    return "silent"


# --- 04 score ---------------------------------------------------------------------


@check("04_score", "einsum-layout")
def _():
    q, k = (
        torch.randn(2, 3, 4, 5),
        torch.randn(2, 6, 4, 5),
    )  # (N, T, h, d), (N, S, h, d)
    shape = torch.einsum("nqhd,nkhd->nhqk", q, k).shape
    assert shape == (2, 4, 3, 6)  # (N, h, T, S)
    return "nhqk"


@check("04_score", "blog-temperature")
def _():
    E, h = 512, 8
    blog = mha.BlogMultiHeadAttention(E, h)
    x = torch.randn(1, 5, E, generator=gen())
    d_k = E // h
    with torch.no_grad():
        q = blog.queries(x.reshape(1, 5, h, d_k))
        k = blog.keys(x.reshape(1, 5, h, d_k))
        energy = torch.einsum("nqhd,nkhd->nhqk", q, k)
        _, weights = mha.blog_to_standard(blog)(x, x, x, average_attn_weights=False)
    factor = math.sqrt(E) / math.sqrt(d_k)
    assert_close(weights, torch.softmax(energy / math.sqrt(d_k) / factor, dim=-1))
    return factor


@check("04_score", "dot-T")
def _():
    k = torch.randn(2, 3, 5, 4)  # (B, h, S, d_k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert k.T.shape == (4, 5, 3, 2)
    assert k.mT.shape == (2, 3, 4, 5)
    return "reversed"


@check("04_score", "saturation")
def _():
    def median_jacobian(d: int, scaled: bool) -> float:
        q = torch.randn(512, d, generator=gen(d))
        k = torch.randn(64, d, generator=gen(d + 1))
        s = q @ k.T / (math.sqrt(d) if scaled else 1.0)
        a = torch.softmax(s, dim=-1)
        jac = torch.diag_embed(a) - a[:, :, None] * a[:, None, :]
        return jac.norm(dim=(-2, -1)).median().item()

    assert median_jacobian(512, False) < 0.05 * median_jacobian(512, True)
    assert median_jacobian(512, False) < 0.1 * median_jacobian(4, False)
    return "vanishes"


# --- 05 mask ----------------------------------------------------------------------


@check("05_mask", "sdpa-polarity")
def _():
    T = 5
    q, k, v = (torch.randn(1, 2, T, 4, generator=gen(i)) for i in range(3))
    hide = torch.ones(T, T, dtype=torch.bool).triu(1)
    want, _ = mha.scaled_dot_product_attention(q, k, v, hide)  # mha: True = masked
    assert_close(want, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert_close(F.scaled_dot_product_attention(q, k, v, attn_mask=~hide), want)
    flipped = F.scaled_dot_product_attention(q, k, v, attn_mask=hide)
    assert not torch.allclose(flipped.nan_to_num(), want)
    as_float = F.scaled_dot_product_attention(q, k, v, attn_mask=hide.float())
    assert not torch.allclose(as_float, want)
    return "inverted"


@check("05_mask", "padding-broadcast")
def _():
    B, h, T, S = 3, 2, 3, 5
    scores = torch.randn(B, h, T, S, generator=gen())
    pad = mha.padding_mask(torch.tensor([5, 2, 4]), S)  # (B, S)
    right = mha.masked_softmax(scores, pad[:, None, None, :])
    for b in range(B):
        assert (right[b][..., pad[b]] == 0).all()  # padded keys get no weight
    assert not torch.allclose(mha.masked_softmax(scores, pad), right)  # B = T: silent
    wrong_axis = mha.masked_softmax(scores, pad[:, None, :T, None])  # hides queries
    assert not torch.allclose(wrong_axis, right)
    return "b11s"


@check("05_mask", "masked-pairs")
def _():
    return int(mha.causal_mask(6).sum())


@check("05_mask", "blog-fill-half")
def _():
    energy = torch.randn(3, 3, generator=gen()).half()
    keep = torch.ones(3, 3).tril()
    with pytest.raises(RuntimeError):
        energy.masked_fill(keep == 0, float("-1e20"))
    for dtype in (torch.float32, torch.bfloat16):  # where it works
        filled = energy.to(dtype).masked_fill(keep == 0, float("-1e20"))
        assert (torch.softmax(filled, -1)[keep == 0] == 0).all()
    return "error"


@check("05_mask", "empty-row")
def _():
    scores = torch.randn(2, 4, generator=gen())
    mask = torch.zeros(2, 4, dtype=torch.bool)
    mask[0] = True  # query 0 has no key left
    plain = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
    assert plain[0].isnan().all() and not plain[1].isnan().any()
    assert (mha.masked_softmax(scores, mask)[0] == 0).all()
    uniform = torch.softmax(scores.masked_fill(mask, -1e20), dim=-1)
    assert_close(uniform[0], torch.full((4,), 0.25))
    return "nan"


# --- 06 softmax -------------------------------------------------------------------


@check("06_softmax", "naive-overflow")
def _():
    s = torch.tensor([1000.0, 999.0, 998.0])
    naive = s.exp() / s.exp().sum()
    assert naive.isnan().all()
    assert_close(torch.softmax(s, -1), torch.softmax(torch.tensor([2.0, 1, 0]), -1))
    return "nan"


@check("06_softmax", "weight-ratio")
def _():
    row = torch.tensor([0.3, 1.7, -0.4, 0.7], dtype=torch.float64)  # cat, ..., mat
    w = torch.softmax(row, -1)
    return (w[1] / w[3]).item()  # scores 1.7 and 0.7


@check("06_softmax", "cold")
def _():
    s = torch.tensor([0.5, 2.5, 1.0, -0.5])
    assert_close(torch.softmax(s / 0.01, -1), F.one_hot(s.argmax(), 4).float())
    hot = torch.softmax(s / 1000.0, -1)
    assert_close(hot, torch.full((4,), 0.25), atol=1e-3, rtol=0)
    return "argmax"


@check("06_softmax", "dropout-scale")
def _():
    p = 0.1
    a = torch.rand(10_000, generator=gen()) + 0.1
    torch.manual_seed(0)
    dropped = F.dropout(a, p=p, training=True)
    kept = dropped > 0
    assert 0.85 < kept.float().mean() < 0.95  # about 1 - p survive
    factor = dropped[kept] / a[kept]
    assert_close(factor, torch.full_like(factor, factor[0].item()))  # one factor
    return factor.mean().item()


@check("06_softmax", "max-entropy")
def _():
    uniform = torch.full((1, 8), 1 / 8)
    one_hot = F.one_hot(torch.tensor([3]), 8).float()
    assert ex.attention_entropy(one_hot).item() == 0
    peaked = torch.softmax(torch.randn(1000, 8, generator=gen()), -1)
    top = ex.attention_entropy(uniform).item()
    assert (ex.attention_entropy(peaked) <= top + 1e-6).all()  # uniform is the max
    return top


# --- 07 concatenate ---------------------------------------------------------------


@check("07_concatenate", "layer-params")
def _():
    counts = {n_params(mha.MultiHeadAttention(64, h)) for h in (1, 2, 4, 8, 16)}
    assert len(counts) == 1  # no h in the count
    return n_params(mha.MultiHeadAttention(64, 8))


@check("07_concatenate", "what-moves")
def _():
    B, T, E, h = 2, 5, 12, 3
    d_k = E // h
    heads = torch.randn(B, h, T, d_k, generator=gen())
    nudged = heads.clone()
    nudged[:, 1] += 1.0
    change = (mha.merge_heads(nudged) - mha.merge_heads(heads)).abs().sum(dim=(0, 1))
    own = torch.zeros(E, dtype=torch.bool)
    own[d_k : 2 * d_k] = True
    assert (change[own] > 0).all() and (change[~own] == 0).all()
    w_o = torch.randn(E, E, generator=gen(1))
    after = ((mha.merge_heads(nudged) - mha.merge_heads(heads)) @ w_o.T).abs()
    assert (after.sum(dim=(0, 1)) > 0).all()  # after W^O, every feature moves
    return "own-slice"


@check("07_concatenate", "batch-first")
def _():
    torch.manual_seed(0)
    seq_first = nn.MultiheadAttention(16, 4).eval()
    batch_first = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    batch_first.load_state_dict(seq_first.state_dict())
    x = torch.randn(2, 6, 16, generator=gen())  # meant as (B, T, E)
    with torch.no_grad():
        confused, _ = seq_first(x, x, x)  # runs, read as (T, B, E)
        right, _ = batch_first(x, x, x)
    assert confused.shape == right.shape and not torch.allclose(confused, right)
    return "misread"


@check("07_concatenate", "reshape-no-transpose")
def _():
    x = torch.randn(2, 5, 12, generator=gen())
    heads = mha.split_heads(x, 3)
    scrambled = heads.reshape(2, 5, 12)  # runs
    assert scrambled.shape == x.shape and not torch.equal(scrambled, x)
    assert torch.equal(mha.merge_heads(heads), x)
    return "scrambled"


@check("07_concatenate", "per-head-weights")
def _():
    layer = nn.MultiheadAttention(16, 4, batch_first=True)
    x = torch.randn(2, 6, 16, generator=gen())
    with torch.no_grad():
        _, averaged = layer(x, x, x)
        _, w = layer(x, x, x, average_attn_weights=False)
    assert averaged.numel() == 72
    return w.numel()


# --- 08 head explorer -------------------------------------------------------------


@check("08_head_explorer", "score-macs")
def _():
    macs = ex.score_macs(1, 10, 10, 64, 16)
    q = mha.split_heads(torch.randn(1, 10, 64), 16)
    with FlopCounterMode(display=False) as counter:
        mha.attention_scores(q, q)
    assert counter.get_total_flops() == 2 * macs  # one multiply-add = 2 FLOPs
    assert {ex.score_macs(1, 10, 10, 64, h) for h in ex.HEAD_COUNTS} == {macs}
    return macs


@check("08_head_explorer", "one-dim-head")
def _():
    for seed in range(20):
        g = gen(seed)
        q, k = torch.randn(10, 1, generator=g), torch.randn(10, 1, generator=g)
        peaks = torch.softmax(q @ k.T, dim=-1).argmax(dim=-1)  # (T,)
        assert set(peaks.tolist()) <= {k.argmax().item(), k.argmin().item()}
    _, x = ex.embed_sentence(ex.SENTENCES[0])
    w64 = ex.explorer_weights(ex.explorer_layer(64), x)[0]  # (h, T, S), d_k = 1
    return int(ex.distinct_targets(w64).max())


@check("08_head_explorer", "average-map")
def _():
    sweep = ex.head_count_sweep()
    first, last = sweep[0], sweep[-1]
    assert last.average_map_entropy > first.average_map_entropy
    assert last.average_map_entropy > 0.9 * last.max_entropy  # close to uniform
    means = [r.mean_entropy for r in sweep]
    assert max(means) - min(means) < max(r.average_map_entropy for r in sweep) - min(
        r.average_map_entropy for r in sweep
    )  # a single head moves less
    return "rises"


@check("08_head_explorer", "weights-grow")
def _():
    layer = mha.MultiHeadAttention(64, 8)
    x = torch.randn(1, 12, 64, generator=gen())
    with torch.no_grad():
        _, w = layer(x, x, x, average_attn_weights=False)
    return w.numel()


# --- 09 what heads learn ----------------------------------------------------------


@check("09_what_heads_learn", "remove-head")
def _():
    E, h = 32, 4
    d_k = E // h
    torch.manual_seed(0)
    attn = mha.MultiHeadAttention(E, h).eval()
    x = torch.randn(2, 6, E, generator=gen())
    gates = torch.tensor([1.0, 0.0, 1.0, 1.0])
    with torch.no_grad():
        removed, _ = masked_self_attention(attn, x, gates)
        full, _ = masked_self_attention(attn, x)
        after = full.clone()
        after[..., d_k : 2 * d_k] = 0.0
        cut = mha.MultiHeadAttention(E, h).eval()
        cut.load_state_dict(attn.state_dict())
        cut.out_proj.weight[:, d_k : 2 * d_k] = 0.0
        by_columns = cut(x, x, x, is_causal=True)[0]
        rows = mha.MultiHeadAttention(E, h).eval()
        rows.load_state_dict(attn.state_dict())
        rows.out_proj.weight[d_k : 2 * d_k] = 0.0
        by_rows = rows(x, x, x, is_causal=True)[0]
    assert_close(by_columns, removed)
    assert not torch.allclose(after, removed)
    assert not torch.allclose(by_rows, removed)
    return "wo-columns"


@check("09_what_heads_learn", "gate-axis")
def _():
    heads = torch.randn(2, 4, 5, 4, generator=gen())  # (B, h, T, d_k), h = d_k = 4
    gates = torch.tensor([1.0, 0.0, 1.0, 1.0])
    wrong = heads * gates  # runs
    assert torch.equal(wrong, heads * gates[None, None, None, :])  # the feature axis
    assert not torch.equal(wrong, heads * gates[:, None, None])  # not the heads
    with pytest.raises(RuntimeError):
        torch.randn(2, 4, 5, 8) * gates  # h != d_k: an error
    return "features"


@check("09_what_heads_learn", "bool-gates")
def _():
    heads = torch.randn(2, 4, 5, 8, generator=gen())
    with pytest.raises(TypeError):
        mask_heads(heads, torch.tensor([True, False, True, True]))
    return "type-error"


@check("09_what_heads_learn", "scored-positions")
def _():
    batch = RepeatTask().sample(200, seed=3)
    per_sequence = batch.scored.sum(dim=-1)  # (B,)
    assert torch.equal(per_sequence, batch.length - 1)
    six = batch.length == 6
    assert six.any()
    return int(per_sequence[six][0])


# --- 10 cost ----------------------------------------------------------------------


def _flops_by_kind(T: int, E: int = 512, h: int = 8) -> tuple[int, int]:
    """(projection FLOPs, QK^T and AV FLOPs) of one mha layer, counted on meta."""
    layer = mha.MultiHeadAttention(E, h, device="meta")
    x = torch.empty(1, T, E, device="meta")
    with FlopCounterMode(display=False) as counter:
        layer(x, x, x, need_weights=True, average_attn_weights=False)
    by_op = {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
    products = by_op.get("aten.bmm", 0)
    return counter.get_total_flops() - products, products


@check("10_cost", "crossover")
def _():
    projections, products = _flops_by_kind(1024)
    assert projections == products
    below, above = _flops_by_kind(512), _flops_by_kind(2048)
    assert below[0] > below[1] and above[0] < above[1]
    return 1024


@check("10_cost", "weight-bytes")
def _():
    layer = mha.MultiHeadAttention(64, 8, device="meta")
    x = torch.empty(1, 4096, 64, device="meta")
    _, w = layer(x, x, x, average_attn_weights=False)  # (B, h, T, T) float32
    assert w.shape == (1, 8, 4096, 4096) and w.dtype == torch.float32
    return w.numel() * w.element_size() / 2**20


@check("10_cost", "why-fused")
def _():
    q, k, v = (torch.randn(1, 2, 64, 16, generator=gen(i)) for i in range(3))
    want, _ = mha.scaled_dot_product_attention(q, k, v)
    assert_close(blockwise_attention(q, k, v, 16), want)  # exact, not approximate

    def matmul_flops(fn) -> int:
        with FlopCounterMode(display=False) as counter:
            fn()
        return counter.get_total_flops()

    blocked = matmul_flops(lambda: blockwise_attention(q, k, v, 16))
    assert blocked == matmul_flops(lambda: mha.scaled_dot_product_attention(q, k, v))
    full = tensor_memory(lambda: mha.scaled_dot_product_attention(q, k, v))
    block = tensor_memory(lambda: blockwise_attention(q, k, v, 16))
    assert block.largest_bytes < full.largest_bytes  # the T x S matrix never exists
    return "traffic"


@check("10_cost", "online-alpha")
def _():
    row = torch.tensor([2.0, 1.0, 0.5, 4.0, 3.0], dtype=torch.float64)
    old, new = row[:3], row[3:]
    m_old, m_new = old.max(), torch.maximum(old.max(), new.max())
    alpha = torch.exp(m_old - m_new)
    l_total = alpha * torch.exp(old - m_old).sum() + torch.exp(new - m_new).sum()
    assert_close(m_new + l_total.log(), torch.logsumexp(row, 0))
    assert m_old == 2 and m_new == 4
    return alpha.item()


@check("10_cost", "need-weights-default")
def _():
    layer = mha.MultiHeadAttention(32, 4).eval()
    x = torch.randn(1, 128, 32, generator=gen())
    default = tensor_memory(lambda: layer(x, x, x))
    fused = tensor_memory(lambda: layer(x, x, x, need_weights=False))
    assert default.largest_bytes == 4 * 4 * 128 * 128  # the (B, h, T, S) weights
    assert fused.largest_bytes < default.largest_bytes
    _, w = layer(x, x, x)
    assert w.shape == (1, 128, 128)  # averaged over the heads
    return "materialised"


# --- 11 variants ------------------------------------------------------------------


@check("11_variants", "cache-gib")
def _():
    assert kv_cache_bytes(1, 4096, 32, 128, 32, torch.float16) == 2 * 2**30
    return kv_cache_bytes(1, 4096, 8, 128, 32, torch.float16) / 2**30


@check("11_variants", "repeat-kv")
def _():
    k = torch.randn(1, 2, 5, 3, generator=gen())  # (B, h_kv, S, d_k)
    want = torch.stack([k[:, i // 4] for i in range(8)], dim=1)
    assert torch.equal(k.repeat_interleave(4, dim=1), want)
    assert torch.equal(repeat_kv(k, 4), want)
    assert not torch.equal(k.repeat(1, 4, 1, 1), want)
    with pytest.raises(RuntimeError):
        k.expand(1, 8, 5, 3)
    return "interleave"


@check("11_variants", "chunk-mask")
def _():
    E, h, T_new, S_all = 16, 4, 3, 7
    torch.manual_seed(0)
    layer = mha.MultiHeadAttention(E, h).eval()
    xs = torch.randn(1, S_all, E, generator=gen())
    with torch.no_grad():
        full, _ = layer(xs, xs, xs, is_causal=True)
        cache = KVCache()
        cached_attention(layer, xs[:, : S_all - T_new], cache)
        q, k, v = (
            mha.split_heads(p(xs[:, -T_new:]), h)
            for p in (layer.q_proj, layer.k_proj, layer.v_proj)
        )
        keys, values = cache.append(k, v)
        results = {}
        for name, mask in [
            ("bottom-right", causal_mask_bottom_right(T_new, S_all)),
            ("top-left", mha.causal_mask(T_new, S_all)),
            ("none", None),
        ]:
            o, _ = mha.scaled_dot_product_attention(q, keys, values, mask)
            results[name] = layer.out_proj(mha.merge_heads(o))
    assert_close(results["bottom-right"], full[:, -T_new:])
    assert not torch.allclose(results["top-left"], full[:, -T_new:], atol=1e-3)
    assert not torch.allclose(results["none"], full[:, -T_new:], atol=1e-3)
    return "bottom-right"


@check("11_variants", "recompute-ratio")
def _():
    E, h, t = 32, 8, 128
    torch.manual_seed(0)
    layer = mha.MultiHeadAttention(E, h).eval()
    x = torch.randn(1, t, E, generator=gen())
    cache = KVCache()
    with torch.no_grad():
        cached_attention(layer, x[:, :-1], cache)
        with FlopCounterMode(display=False) as step:
            cached_attention(layer, x[:, -1:], cache, need_weights=True)
        with FlopCounterMode(display=False) as full:
            layer(x, x, x, is_causal=True)
    return full.get_total_flops() / step.get_total_flops()


# --- 12 modern attention --------------------------------------------------------


@check("12_modern_attention", "rope-relative")
def _():
    q, k = torch.randn(2, 1, 1, 16, generator=gen(), dtype=torch.float64)
    positions = {"shifted": (107, 103), "swapped": (3, 7), "query-only": (107, 3)}

    def score(m: int, n: int) -> float:
        return (apply_rope(q, m) @ apply_rope(k, n).transpose(-2, -1)).item()

    base = score(7, 3)
    same = [
        name
        for name, (m, n) in positions.items()
        if math.isclose(score(m, n), base, rel_tol=1e-9, abs_tol=1e-12)
    ]
    assert same == ["shifted"], same
    return "shifted"


@check("12_modern_attention", "frequencies")
def _():
    return rope_frequencies(64).numel()


@check("12_modern_attention", "window-pairs")
def _():
    allowed = (~sliding_window_mask(10, window=4)).sum().item()
    assert allowed == window_pairs(10, window=4) == 10 * 4 - 4 * 3 // 2
    assert (~mha.causal_mask(10)).sum().item() == 55
    return allowed


@check("12_modern_attention", "left-padding")
def _():
    E, h = 16, 4
    torch.manual_seed(0)
    layer = mha.MultiHeadAttention(E, h).eval()
    long = torch.randn(1, 6, E, generator=gen())
    short = torch.randn(1, 4, E, generator=gen())
    pad = torch.zeros(1, 2, E)
    prompts = torch.cat([long[:, :5], torch.cat([pad, short[:, :3]], 1)])  # (2, 5, E)
    new = torch.cat([long[:, 5:], short[:, 3:]])  # (2, 1, E)
    with torch.no_grad():
        alone = [layer(x, x, x, is_causal=True)[0][:, -1] for x in (long, short)]
        cache = KVCache()
        cached_attention(layer, prompts, cache)  # no key padding mask
        out, _ = cached_attention(layer, new, cache)
    assert torch.allclose(out[0, -1], alone[0][0], atol=1e-5)  # the long prompt
    assert not torch.allclose(out[1, -1], alone[1][0], atol=1e-3)  # the padded one
    return "padded"


# --- 13 blog revisited ------------------------------------------------------------


@check("13_blog_revisited", "qkv-ratio")
def _():
    std = n_params(mha.MultiHeadAttention(512, 8), ("q_proj", "k_proj", "v_proj"))
    blog = n_params(mha.BlogMultiHeadAttention(512, 8), ("queries", "keys", "values"))
    return std / blog


@check("13_blog_revisited", "keep-mask-in-torch")
def _():
    T, E, h = 5, 16, 4
    torch.manual_seed(0)
    blog_layer = mha.BlogMultiHeadAttention(E, h)
    torch_blog = mha.blog_to_standard(blog_layer).to_torch()
    x = torch.randn(2, T, E, generator=gen())
    keep = torch.ones(T, T, dtype=torch.int64).tril()
    with torch.no_grad():
        expected = blog_layer(x, x, x, keep)
        wrong, _ = torch_blog(x, x, x, attn_mask=keep.bool())
        right, _ = torch_blog(x, x, x, attn_mask=keep == 0)
    assert torch.isnan(wrong[:, -1]).all()  # the last query lost every key
    assert not torch.isnan(wrong[:, 0]).any()  # the first one saw the future
    assert_close(right, expected)
    return "upside-down"


@check("13_blog_revisited", "overfitting-claim")
def _():
    x = torch.randn(1, 16, 64, generator=gen())
    flops, params = set(), set()
    for h in (1, 2, 4, 8, 16):
        layer = mha.MultiHeadAttention(64, h)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            layer(x, x, x)
        flops.add(counter.get_total_flops())
        params.add(n_params(layer))
    assert len(params) == 1  # no smaller model with more heads
    assert len(flops) == 1  # and no cheaper one: the heads share one batched product
    return "overfitting"


@check("13_blog_revisited", "fix-scale")
def _():
    E, h = 16, 4
    torch.manual_seed(0)
    blog_layer = mha.BlogMultiHeadAttention(E, h)
    x = torch.randn(2, 5, E, generator=gen())
    naive = mha.blog_to_standard(blog_layer)
    with torch.no_grad():
        naive.q_proj.weight.mul_(math.sqrt(h))  # the same weights, divided by sqrt(d_k)
        out_blog = blog_layer(x, x, x)
        assert_close(mha.blog_to_standard(blog_layer)(x, x, x)[0], out_blog)
        assert not torch.allclose(naive(x, x, x)[0], out_blog, atol=1e-3)
    return "changes"


# --- the tests --------------------------------------------------------------------


def all_questions() -> list[tuple[str, str]]:
    return [(c, q.id) for c in available_quizzes() for q in load_quiz(c).questions]


def test_every_question_has_a_check_and_every_check_a_question():
    questions = set(all_questions())
    assert questions, "no quiz questions found"
    assert questions - set(CHECKS) == set(), "questions without a check"
    assert set(CHECKS) - questions == set(), "checks of questions that do not exist"


def mismatch(q: ChoiceQuestion | NumberQuestion, computed: object) -> str | None:
    """Why the quiz's right answer disagrees with the computed one, or None."""
    if isinstance(q, ChoiceQuestion):
        if q.answer.id != computed:
            return (
                f"the quiz marks {q.answer.id!r} right, the check proves {computed!r}"
            )
        return None
    if not q.accepts(float(computed)):
        return f"the quiz expects {q.answer:g} ± {q.tolerance:g}, it is {computed!r}"
    for w in q.wrong:  # a slip's value must not be the computed answer
        if abs(w.value - float(computed)) <= w.tolerance:
            return f"the wrong value {w.value:g} is the computed answer {computed!r}"
    return None


@pytest.mark.parametrize(
    ("chapter", "question"),
    all_questions(),
    ids=[f"{c}/{q}" for c, q in all_questions()],
)
def test_the_quiz_answer_is_right(chapter, question):
    q = load_quiz(chapter).question(question)
    problem = mismatch(q, CHECKS[chapter, question]())
    assert problem is None, f"{chapter}/{question}: {problem}"


def test_a_wrong_right_answer_is_caught():
    """The comparison above can fail: quizzes whose marked answers are wrong."""
    q = load_quiz("05_mask").question("masked-pairs")
    computed = CHECKS["05_mask", "masked-pairs"]()
    assert mismatch(q, computed) is None
    assert mismatch(replace(q, answer=21.0), computed) is not None
    slip = WrongValue(computed, "a wrong value that is in fact right")
    assert mismatch(replace(q, wrong=(slip,)), computed) is not None
    choice = load_quiz("01_soft_lookup").question("softmax-axis")
    swapped = tuple(replace(o, correct=o.id == "rows") for o in choice.options)
    proved = CHECKS["01_soft_lookup", "softmax-axis"]()
    assert mismatch(choice, proved) is None
    assert mismatch(replace(choice, options=swapped), proved) is not None
