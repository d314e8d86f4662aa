"""Every user mistake gets a ValueError/TypeError that says what was expected, what
was received and, where one helps, a hint. Each case lists the phrases its message must
contain."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import mha
from mha import toy
from mha.kv_cache import mla_cache_bytes
from mha.plotting import plot_heads

E, H, B, T, S = 8, 2, 2, 3, 4
LAYER = mha.MultiHeadAttention(E, H)
SEQ_FIRST = mha.MultiHeadAttention(E, H, batch_first=False)
GQA = mha.GroupedQueryAttention(E, H, 1)
BLOG = mha.BlogMultiHeadAttention(E, H)


def x(*shape, dtype=torch.float32):
    return torch.zeros(*shape, dtype=dtype)


Q, KV = x(B, T, E), x(B, S, E)
WEIGHTS = {"w_q": x(E, E), "w_k": x(E, E), "w_v": x(E, E), "w_o": x(E, E)}


def call_layer(layer=LAYER, q=Q, k=KV, v=KV, **kwargs):
    return lambda: layer(q, k, v, **kwargs)


def call_function(q=Q, k=KV, v=KV, **kwargs):
    kwargs = {"num_heads": H} | WEIGHTS | kwargs
    return lambda: mha.multi_head_attention(q, k, v, **kwargs)


CASES = {
    # sizes of the layers
    "heads do not divide embed_dim": (
        lambda: mha.MultiHeadAttention(10, 3),
        ValueError,
        [
            "embed_dim=10",
            "num_heads=3",
            "Valid num_heads for embed_dim=10: 1, 2, 5, 10",
        ],
    ),
    "zero heads": (
        lambda: mha.MultiHeadAttention(8, 0),
        ValueError,
        ["num_heads must be a positive int", "num_heads=0"],
    ),
    "negative embed_dim": (
        lambda: mha.MultiHeadAttention(-4, 2),
        ValueError,
        ["embed_dim must be a positive int", "embed_dim=-4"],
    ),
    "float embed_dim": (
        lambda: mha.MultiHeadAttention(8.0, 2),
        TypeError,
        ["embed_dim must be an int", "float 8.0"],
    ),
    "zero kdim": (
        lambda: mha.MultiHeadAttention(8, 2, kdim=0),
        ValueError,
        ["kdim must be a positive int", "kdim=0"],
    ),
    "dropout out of range": (
        lambda: mha.MultiHeadAttention(8, 2, dropout=1.5),
        ValueError,
        ["dropout must be in [0, 1)", "dropout=1.5"],
    ),
    "dropout not a number": (
        lambda: mha.MultiHeadAttention(8, 2, dropout="0.1"),
        TypeError,
        ["dropout must be a float in [0, 1)", "got str"],
    ),
    "kv heads do not divide heads": (
        lambda: mha.GroupedQueryAttention(12, 6, 4),
        ValueError,
        [
            "num_heads=6",
            "num_kv_heads=4",
            "Valid num_kv_heads for num_heads=6: 1, 2, 3, 6",
        ],
    ),
    "zero kv heads": (
        lambda: mha.GroupedQueryAttention(12, 6, 0),
        ValueError,
        ["num_kv_heads must be a positive int", "num_kv_heads=0"],
    ),
    "blog layer sizes": (
        lambda: mha.BlogMultiHeadAttention(10, 4),
        ValueError,
        ["embed_size=10", "num_heads=4", "1, 2, 5, 10"],
    ),
    # inputs of the layer
    "query not a tensor": (
        call_layer(q=[[1.0]]),
        TypeError,
        ["query must be a torch.Tensor", "got list"],
    ),
    "integer input": (
        call_layer(q=torch.zeros(B, T, E, dtype=torch.long)),
        TypeError,
        ["query must have a floating dtype", "got torch.int64", "nn.Embedding"],
    ),
    "4-D query": (
        call_layer(q=x(1, B, T, E)),
        ValueError,
        ["query must be 3-D (B, T, E)", "4-D tensor of shape (1, 2, 3, 8)"],
    ),
    "batched query, unbatched key": (
        call_layer(k=x(S, E)),
        ValueError,
        ["key must be 3-D (B, S, kdim)", "2-D tensor of shape (4, 8)"],
    ),
    "unbatched query, batched key": (
        call_layer(q=x(T, E)),
        ValueError,
        ["key must be 2-D (S, kdim)", "shape (2, 4, 8)", "key and value must be 2-D"],
    ),
    "query embed dim": (
        call_layer(q=x(B, T, 6)),
        ValueError,
        ["query's last dim must be embed_dim E = 8", "(2, 3, 6)"],
    ),
    "key embed dim": (
        call_layer(k=x(B, S, 5)),
        ValueError,
        ["key's last dim must be kdim = 8", "(2, 4, 5)", "kdim=5"],
    ),
    "value embed dim": (
        call_layer(v=x(B, S, 7)),
        ValueError,
        ["value's last dim must be vdim = 8", "(2, 4, 7)", "vdim=7"],
    ),
    "batch sizes differ": (
        call_layer(k=x(3, S, E), v=x(3, S, E)),
        ValueError,
        ["same batch size B (dim 0)", "got 2, 3 and 3", "batch_first=False"],
    ),
    "sequence-first batch sizes differ": (
        call_layer(SEQ_FIRST, q=x(T, B, E), k=x(S, 3, E), v=x(S, 3, E)),
        ValueError,
        ["same batch size B (dim 1)", "got 2, 3 and 3", "batch_first=True"],
    ),
    "key and value lengths differ": (
        call_layer(v=x(B, S + 1, E)),
        ValueError,
        ["same length S (dim 1)", "(2, 4, 8)", "(2, 5, 8)"],
    ),
    "input dtype differs from the layer's": (
        call_layer(q=x(B, T, E, dtype=torch.float64)),
        TypeError,
        ["query has torch.float64", "the weights torch.float32", ".to("],
    ),
    "input on another device": (
        call_layer(q=torch.zeros(B, T, E, device="meta")),
        ValueError,
        ["query is on meta", "the weights on cpu", "same device"],
    ),
    # masks of the layer
    "padding mask passed as attn_mask": (
        call_layer(attn_mask=torch.zeros(B, S, dtype=torch.bool)),
        ValueError,
        [
            "attn_mask must have shape (T, S) = (3, 4)",
            "(4, 3, 4)",
            "got (2, 4)",
            "(B, S) padding mask as attn_mask",
        ],
    ),
    "3-D attn_mask without the heads": (
        call_layer(attn_mask=torch.zeros(B, T, S, dtype=torch.bool)),
        ValueError,
        ["(B * num_heads, T, S) = (4, 3, 4)", "got (2, 3, 4)", "repeat_interleave"],
    ),
    "4-D attn_mask": (
        call_layer(attn_mask=torch.zeros(B, H, T, S, dtype=torch.bool)),
        ValueError,
        ["got (2, 2, 3, 4)", "reshape(B * num_heads, T, S)"],
    ),
    "transposed attn_mask": (
        call_layer(attn_mask=torch.zeros(S, T, dtype=torch.bool)),
        ValueError,
        ["(T, S) = (3, 4)", "got (4, 3)", "transposed"],
    ),
    "attn_mask of another length": (
        call_layer(attn_mask=torch.zeros(T, S + 2, dtype=torch.bool)),
        ValueError,
        ["(T, S) = (3, 4)", "got (3, 6)", "columns are keys"],
    ),
    "attention mask passed as key_padding_mask": (
        call_layer(key_padding_mask=torch.zeros(T, S, dtype=torch.bool)),
        ValueError,
        [
            "key_padding_mask must have shape (B, S) = (2, 4)",
            "got (3, 4)",
            "(T, S) attention mask as key_padding_mask",
        ],
    ),
    "transposed key_padding_mask": (
        call_layer(key_padding_mask=torch.zeros(S, B, dtype=torch.bool)),
        ValueError,
        ["(B, S) = (2, 4)", "got (4, 2)", "transposed"],
    ),
    "key_padding_mask of another length": (
        call_layer(key_padding_mask=torch.zeros(B, S + 1, dtype=torch.bool)),
        ValueError,
        ["(B, S) = (2, 4)", "got (2, 5)", "True where attending is NOT allowed"],
    ),
    "integer attn_mask": (
        call_layer(attn_mask=torch.ones(T, S, dtype=torch.long)),
        TypeError,
        ["attn_mask must be a bool tensor", "got dtype torch.int64", "mask == 0"],
    ),
    "mask on another device": (
        call_layer(attn_mask=torch.zeros(T, S, dtype=torch.bool, device="meta")),
        ValueError,
        ["attn_mask is on meta", "inputs are on cpu", ".to(query.device)"],
    ),
    "unbatched key_padding_mask with a batch dim": (
        call_layer(q=x(T, E), k=x(S, E), v=x(S, E), key_padding_mask=torch.zeros(1, S)),
        ValueError,
        ["key_padding_mask must be 1-D (S,) for unbatched inputs", "(1, 4)"],
    ),
    "GQA input size": (
        call_layer(GQA, q=x(B, T, 4)),
        ValueError,
        ["embed_dim E = 8", "(2, 3, 4)"],
    ),
    # the function
    "missing weight": (
        call_function(w_o=None),
        TypeError,
        ["w_o must be a torch.Tensor", "got NoneType"],
    ),
    "weight of the wrong shape": (
        call_function(w_k=x(E, E + 1)),
        ValueError,
        ["key's last dim must be kdim = 9", "(2, 4, 8)"],
    ),
    "w_q not square": (
        call_function(w_q=x(E, 4)),
        ValueError,
        ["w_q must have shape (E, E) = (8, 8)", "got (8, 4)"],
    ),
    "w_v rows": (
        call_function(w_v=x(6, E)),
        ValueError,
        ["w_v must have shape (num_kv_heads * d_k, vdim) = (8, 8)", "got (6, 8)"],
    ),
    "bias of the wrong size": (
        call_function(b_o=x(E + 1)),
        ValueError,
        ["b_o must have shape (out,) = (8,)", "got (9,)"],
    ),
    "bias dtype": (
        call_function(b_q=x(E, dtype=torch.float64)),
        TypeError,
        ["b_q has torch.float64", "w_q torch.float32"],
    ),
    "kv heads in the function": (
        call_function(num_kv_heads=3),
        ValueError,
        ["num_heads=2", "num_kv_heads=3", "Valid num_kv_heads for num_heads=2: 1, 2"],
    ),
    "dropout_p in the function": (
        call_function(dropout_p=-0.1),
        ValueError,
        ["dropout_p must be in [0, 1)", "dropout_p=-0.1"],
    ),
    "function on unbatched input": (
        call_function(q=x(T, E)),
        ValueError,
        ["query must be 3-D (B, T, E)", "2-D tensor of shape (3, 8)"],
    ),
    # the steps
    "split_heads rank": (
        lambda: mha.split_heads(x(T, E), 2),
        ValueError,
        ["x must be 3-D (B, T, E)", "2-D tensor of shape (3, 8)", "unsqueeze(0)"],
    ),
    "split_heads heads": (
        lambda: mha.split_heads(x(B, T, 6), 4),
        ValueError,
        ["E (x.shape[-1])=6", "num_heads=4", "1, 2, 3, 6"],
    ),
    "merge_heads rank": (
        lambda: mha.merge_heads(x(B, T, E)),
        ValueError,
        ["x must be 4-D (B, h, T, d_k)", "3-D tensor of shape (2, 3, 8)"],
    ),
    "scores with different d_k": (
        lambda: mha.attention_scores(x(T, 4), x(S, 5)),
        ValueError,
        ["same last dim d_k", "(3, 4) (d_k=4)", "(4, 5) (d_k=5)"],
    ),
    "scores of a vector": (
        lambda: mha.attention_scores(x(4), x(S, 4)),
        ValueError,
        ["q must have at least 2 dims (..., T, d_k)", "got shape (4,)"],
    ),
    "scores with leading dims that do not broadcast": (
        lambda: mha.attention_scores(x(2, T, 4), x(3, S, 4)),
        ValueError,
        ["do not broadcast", "(2,) vs (3,)"],
    ),
    "scores dtype": (
        lambda: mha.attention_scores(x(T, 4), x(S, 4, dtype=torch.float64)),
        TypeError,
        ["k has torch.float64", "q torch.float32"],
    ),
    "sdpa value length": (
        lambda: mha.scaled_dot_product_attention(x(T, 4), x(S, 4), x(S + 1, 4)),
        ValueError,
        ["same length S", "k (4, 4)", "v (5, 4)"],
    ),
    "sdpa mask that does not broadcast": (
        lambda: mha.scaled_dot_product_attention(
            x(B, T, 4), x(B, S, 4), x(B, S, 4), torch.zeros(B, S, dtype=torch.bool)
        ),
        ValueError,
        [
            "mask of shape (2, 4)",
            "does not broadcast",
            "(..., T, S) = (2, 3, 4)",
            "(B, 1, 1, S)",
        ],
    ),
    "sdpa integer mask": (
        lambda: mha.scaled_dot_product_attention(
            x(T, 4), x(S, 4), x(S, 4), torch.zeros(T, S, dtype=torch.int32)
        ),
        TypeError,
        ["attn_mask must be a bool tensor", "torch.int32"],
    ),
    "masked_softmax integer scores": (
        lambda: mha.masked_softmax(torch.zeros(T, S, dtype=torch.long)),
        TypeError,
        ["scores must have a floating dtype", "torch.int64"],
    ),
    "causal_mask size": (
        lambda: mha.causal_mask(0),
        ValueError,
        ["T must be a positive int", "T=0"],
    ),
    "causal_mask key size": (
        lambda: mha.causal_mask(3, 2.5),
        TypeError,
        ["S must be an int", "float 2.5"],
    ),
    "padding_mask length too long": (
        lambda: mha.padding_mask([2, 7], 5),
        ValueError,
        ["every length must be in [0, S=5]", "lengths=[2, 7]"],
    ),
    "padding_mask float lengths": (
        lambda: mha.padding_mask(torch.tensor([2.0, 3.0]), 5),
        TypeError,
        ["lengths must hold integers", "torch.float32"],
    ),
    "padding_mask 2-D lengths": (
        lambda: mha.padding_mask(torch.tensor([[2, 3]]), 5),
        ValueError,
        ["lengths must be 1-D (B,)", "shape (1, 2)"],
    ),
    "empty_rows of a list": (
        lambda: mha.empty_rows([[True]]),
        TypeError,
        ["mask must be a torch.Tensor", "got list"],
    ),
    # conversions and the blog layer
    "from_torch of another module": (
        lambda: mha.MultiHeadAttention.from_torch(nn.Linear(2, 2)),
        TypeError,
        ["expects a torch.nn.MultiheadAttention", "got Linear"],
    ),
    "from_torch with add_bias_kv": (
        lambda: mha.MultiHeadAttention.from_torch(
            nn.MultiheadAttention(8, 2, add_bias_kv=True)
        ),
        ValueError,
        ["add_bias_kv=True", "does not implement", "defaults"],
    ),
    "from_torch with add_zero_attn": (
        lambda: mha.MultiHeadAttention.from_torch(
            nn.MultiheadAttention(8, 2, add_zero_attn=True)
        ),
        ValueError,
        ["add_zero_attn=True", "does not implement"],
    ),
    "blog_to_standard of another layer": (
        lambda: mha.blog_to_standard(LAYER),
        TypeError,
        ["expects a BlogMultiHeadAttention", "got MultiHeadAttention"],
    ),
    "blog layer input size": (
        lambda: BLOG(KV, KV, x(B, T, 6)),
        ValueError,
        ["query's last dim must be embed_dim E = 8", "(2, 3, 6)"],
    ),
    "blog layer mask shape": (
        lambda: BLOG(KV, KV, Q, torch.ones(B, 5)),
        ValueError,
        ["mask of shape (2, 5)", "(N, heads, T, S) = (2, 2, 3, 4)"],
    ),
    "blog mask conversion": (
        lambda: mha.blog_mask_to_standard(
            torch.ones(3, 1, 1, S), batch_size=B, num_heads=H, query_len=T, key_len=S
        ),
        ValueError,
        ["mask of shape (3, 1, 1, 4)", "(N, heads, T, S) = (2, 2, 3, 4)"],
    ),
    "seed_everything type": (
        lambda: mha.seed_everything("42"),
        TypeError,
        ["seed must be an int", "str '42'"],
    ),
    "seed_everything range": (
        lambda: mha.seed_everything(-1),
        ValueError,
        ["seed must be in [0, 2**32)", "seed=-1"],
    ),
    # int arguments outside the layer, checked by mha/_validate.py's check_int:
    # TypeError for a wrong type, ValueError for a wrong value, both with a hint
    "window sinks type": (
        lambda: mha.sliding_window_mask(4, window=2, sinks=1.0),
        TypeError,
        ["sinks must be an int", "float 1.0", "Hint: sinks is how many"],
    ),
    "window sinks value": (
        lambda: mha.sliding_window_mask(4, window=2, sinks=-1),
        ValueError,
        ["sinks must be an int >= 0", "sinks=-1", "Hint:"],
    ),
    "MLA rope_dim value": (
        lambda: mla_cache_bytes(1, 8, 16, -1),
        ValueError,
        ["rope_dim must be an int >= 0", "rope_dim=-1", "no decoupled RoPE key"],
    ),
    "MLA rope_dim type": (
        lambda: mla_cache_bytes(1, 8, 16, "8"),
        TypeError,
        ["rope_dim must be an int", "str '8'"],
    ),
    "toy seed value": (
        lambda: toy.train_toy(seed=-1),
        ValueError,
        ["seed must be an int >= 0", "seed=-1", "Hint: seeds are 0, 1, 2"],
    ),
    "toy seed type": (
        lambda: toy.train_toy_seeds(2, [0.5], steps=1),
        TypeError,
        ["seed must be an int", "float 0.5"],
    ),
    "plot_heads ncols value": (
        lambda: plot_heads(torch.full((2, 3, 3), 1 / 3), ncols=0),
        ValueError,
        ["ncols must be a positive int", "ncols=0", "plot_heads: leave ncols None"],
    ),
    "plot_heads ncols type": (
        lambda: plot_heads(torch.full((2, 3, 3), 1 / 3), ncols="2"),
        TypeError,
        ["ncols must be an int", "str '2'"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_error_message_says_what_was_expected_and_what_was_received(case):
    action, error, phrases = CASES[case]
    with pytest.raises(error) as info:
        action()
    message = str(info.value)
    missing = [p for p in phrases if p not in message]
    assert not missing, f"{missing} not in: {message}"
    assert info.type is error  # not a subclass thrown from deep inside torch
