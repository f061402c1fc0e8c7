#!/usr/bin/python3
"""PyTorch reference numbers for tests/test_reference.cpp.

Regenerate (rarely needed; the output is committed):

    /usr/bin/python3 tests/make_reference.py

This needs Debian's python3-torch and python3-h5py and writes
tests/data/reference.h5. The C++ test only reads that file: building and
running the test suite needs no Python.

What is in the file (one group per case; everything is computed in float64
and stored as float64, except parameters, which are drawn float32-exact and
stored as float32 to keep the file under 200 KB):

* single_head_self_attention, single_head_causal_self_attention,
  single_head_cross_attention, single_head_encoder_decoder_block: the
  textbook single-head forms of the three attention routings and of the
  encoder-decoder block, written below as a reader would first meet them:
  one head, bias-free W_Q/W_K/W_V, scores / sqrt(d_k), -inf on padded or
  future keys, W_O only in CrossAttention, and the pre-norm decoder block
  (causal self-attention without W_O, cross-attention, Linear-GELU(erf)-Linear
  FFN, three LayerNorms) in eval mode. Each case holds the inputs, a fixed
  tensor R, the weights under attnlab's parameter paths, the outputs and
  attention weights, and the gradients of sum(out * R) with respect to the
  weights (grad/<path>) and the inputs (grad_inputs/<name>).

* bert, gpt, t5, perceiver: PyTorch re-implementations of attnlab's four
  presets at a tiny size (2 layers per stack, 2 heads of width 3, d_model 6,
  d_ff 12, vocabulary 7, padded batches of 2-3 rows). The modules mirror
  models/*.cpp and layers/*.cpp one to one and their attribute names are
  attnlab's registered names, so named_parameters() with '.' replaced by '/'
  gives attnlab's checkpoint keys. Each case holds config/ (attributes in
  attnlab's config_to_map form), inputs/, params/<path>, outputs/ (logits and
  loss) and grad/<path> (d loss / d parameter).
"""

import ctypes
import ctypes.util
import math
import os

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data", "reference.h5")


# =============================================================================
# Single-head textbook modules: the three routings and the decoder block
# =============================================================================


class SelfAttention(nn.Module):
    """Bidirectional self-attention; padding_mask (B,T) is True at padding."""

    def __init__(self, d_model, d_k):
        super().__init__()
        self.d_k = d_k
        self.W_Q = nn.Linear(d_model, d_k, bias=False)
        self.W_K = nn.Linear(d_model, d_k, bias=False)
        self.W_V = nn.Linear(d_model, d_k, bias=False)

    def forward(self, x, padding_mask=None):
        q, k, v = self.W_Q(x), self.W_K(x), self.W_V(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)  # (B,T,T)
        if padding_mask is not None:  # block padded keys for every query
            scores = scores.masked_fill(padding_mask[:, None, :], float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        return attn @ v, attn


class CausalSelfAttention(nn.Module):
    """Self-attention where position i sees positions j <= i only."""

    def __init__(self, d_model, d_k, max_len=2048):
        super().__init__()
        self.d_k = d_k
        self.W_Q = nn.Linear(d_model, d_k, bias=False)
        self.W_K = nn.Linear(d_model, d_k, bias=False)
        self.W_V = nn.Linear(d_model, d_k, bias=False)
        future = torch.ones(max_len, max_len, dtype=torch.bool).triu(1)
        self.register_buffer("causal_mask", future)

    def forward(self, x):
        t = x.shape[1]
        q, k, v = self.W_Q(x), self.W_K(x), self.W_V(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)
        scores = scores.masked_fill(self.causal_mask[:t, :t], float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        return attn @ v, attn


class CrossAttention(nn.Module):
    """Queries from the decoder, keys/values from the encoder, then W_O."""

    def __init__(self, d_model, d_k):
        super().__init__()
        self.d_k = d_k
        self.W_Q = nn.Linear(d_model, d_k, bias=False)
        self.W_K = nn.Linear(d_model, d_k, bias=False)
        self.W_V = nn.Linear(d_model, d_k, bias=False)
        self.W_O = nn.Linear(d_k, d_model, bias=False)

    def forward(self, decoder_hidden, encoder_output, encoder_padding_mask=None):
        q = self.W_Q(decoder_hidden)
        k, v = self.W_K(encoder_output), self.W_V(encoder_output)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)  # (B,Tdec,Tenc)
        if encoder_padding_mask is not None:
            scores = scores.masked_fill(encoder_padding_mask[:, None, :], float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        return self.W_O(attn @ v), attn


class EncoderDecoderBlock(nn.Module):
    """Pre-norm decoder block: causal self-attn, cross-attn, FFN, residuals."""

    def __init__(self, d_model, d_k, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = CausalSelfAttention(d_model, d_k)
        self.cross_attn = CrossAttention(d_model, d_k)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, decoder_input, encoder_output, encoder_mask=None):
        sa, self_weights = self.self_attn(self.norm1(decoder_input))
        x = decoder_input + self.dropout(sa)
        ca, cross_weights = self.cross_attn(self.norm2(x), encoder_output, encoder_mask)
        x = x + self.dropout(ca)
        x = x + self.dropout(self.ff(self.norm3(x)))
        # The textbook block returns (x, cross_weights); the self-attention
        # weights are kept as well since attnlab's block reports both.
        return x, cross_weights, self_weights


# Textbook module/parameter names -> attnlab's (MultiHeadAttention, TransformerBlock).
TEXTBOOK_TO_OURS = {
    "W_Q": "q_proj",
    "W_K": "k_proj",
    "W_V": "v_proj",
    "W_O": "out_proj",
    "norm1": "self_attn_norm",
    "norm2": "cross_attn_norm",
    "norm3": "ffn_norm",
    "ff": "ffn",
    "0": "fc1",  # ff.0 (inside ff only: these modules have no other numbered children)
    "2": "fc2",  # ff.2
}


def textbook_param_path(name):
    """'cross_attn.W_O.weight' -> 'cross_attn/out_proj/weight', 'ff.0.bias' -> 'ffn/fc1/bias'."""
    return "/".join(TEXTBOOK_TO_OURS.get(part, part) for part in name.split("."))


# =============================================================================
# attnlab's architecture in PyTorch (mirrors layers/*.cpp and models/*.cpp)
# =============================================================================


class Norm(nn.Module):
    """LayerNorm (weight, bias) or T5's RMSNorm (weight only)."""

    def __init__(self, dim, kind, eps):
        super().__init__()
        self.kind, self.eps = kind, eps
        self.weight = nn.Parameter(torch.ones(dim))
        if kind == "layernorm":
            self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        if self.kind == "layernorm":
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def activation(x, name):
    if name == "gelu":
        return F.gelu(x)  # exact erf form
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu(x)
    raise ValueError(name)


class FeedForward(nn.Module):
    def __init__(self, dim, hidden, act, bias):
        super().__init__()
        self.act = act
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x):
        return self.fc2(activation(self.fc1(x), self.act))


class MultiHeadAttention(nn.Module):
    """One routine for bidirectional, causal and cross attention."""

    def __init__(self, dim, heads, bias, scale_scores):
        super().__init__()
        self.heads, self.scale_scores = heads, scale_scores
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.k_proj = nn.Linear(dim, dim, bias=bias)
        self.v_proj = nn.Linear(dim, dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)

    def split(self, x):  # (B,T,H*D) -> (B,H,T,D); head h owns columns [hD, (h+1)D)
        b, t, c = x.shape
        return x.view(b, t, self.heads, c // self.heads).transpose(1, 2)

    def forward(self, query_input, kv_input, key_padding=None, causal=False, score_bias=None):
        q = self.split(self.q_proj(query_input))
        k = self.split(self.k_proj(kv_input))
        v = self.split(self.v_proj(kv_input))
        tq, tk, d = q.shape[2], k.shape[2], q.shape[3]
        scores = q @ k.transpose(-2, -1)  # (B,H,Tq,Tk)
        if self.scale_scores:
            scores = scores / math.sqrt(d)
        if score_bias is not None:
            scores = scores + score_bias
        blocked = torch.zeros(q.shape[0], 1, tq, tk, dtype=torch.bool)
        if key_padding is not None:
            blocked = blocked | key_padding[:, None, None, :]
        if causal:  # keys aligned at the end: query i sees keys j <= i + (Tk - Tq)
            blocked = blocked | torch.ones(tq, tk, dtype=torch.bool).triu(1 + tk - tq)
        weights = torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(query_input.shape[0], tq, -1)
        return self.out_proj(out), weights


class TransformerBlock(nn.Module):
    def __init__(self, kind, cfg):
        super().__init__()
        c = cfg
        self.kind, self.placement = kind, c["placement"]
        norm = lambda: Norm(c["d_model"], c["norm"], c["norm_eps"])
        attn = lambda: MultiHeadAttention(c["d_model"], c["n_heads"], c["bias"], c["scale_scores"])
        self.self_attn_norm = norm()
        self.self_attn = attn()
        if kind == "encoder-decoder":
            self.cross_attn_norm = norm()
            self.cross_attn = attn()
        self.ffn_norm = norm()
        self.ffn = FeedForward(c["d_model"], c["d_ff"], c["activation"], c["bias"])

    def residual(self, x, norm, sublayer):
        if self.placement == "pre":
            return x + sublayer(norm(x))
        return norm(x + sublayer(x))

    def forward(self, x, padding, self_bias, memory=None, memory_padding=None):
        causal = self.kind != "encoder"
        h = self.residual(
            x, self.self_attn_norm, lambda t: self.self_attn(t, t, padding, causal, self_bias)[0]
        )
        if self.kind == "encoder-decoder":
            h = self.residual(
                h,
                self.cross_attn_norm,
                lambda t: self.cross_attn(t, memory, memory_padding, False, None)[0],
            )
        return self.residual(h, self.ffn_norm, self.ffn)


def relative_position_bucket(relative, bidirectional, num_buckets, max_distance):
    """T5's bucket of relative = key_pos - query_pos (attnlab's scalar form)."""
    offset = 0
    if bidirectional:
        num_buckets //= 2
        if relative > 0:
            offset = num_buckets  # keys after the query use the upper half
        n = abs(relative)
    else:
        n = max(-relative, 0)
    max_exact = num_buckets // 2
    if n < max_exact:
        return offset + n
    log_ratio = math.log(n / max_exact) / math.log(max_distance / max_exact)
    return offset + min(max_exact + int(log_ratio * (num_buckets - max_exact)), num_buckets - 1)


def t5_buckets_vectorised(relative, bidirectional, num_buckets, max_distance):
    """The tensor formulation of the T5 paper's code, as an independent check."""
    out = torch.zeros_like(relative)
    if bidirectional:
        num_buckets //= 2
        out = out + (relative > 0).long() * num_buckets
        n = relative.abs()
    else:
        n = (-relative).clamp(min=0)
    max_exact = num_buckets // 2
    large = max_exact + (
        torch.log(n.double() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).long()
    large = large.clamp(max=num_buckets - 1)
    return out + torch.where(n < max_exact, n, large)


class RelativePositionBias(nn.Module):
    def __init__(self, bidirectional, num_buckets, max_distance, heads):
        super().__init__()
        self.bidirectional, self.num_buckets, self.max_distance = bidirectional, num_buckets, max_distance
        self.weight = nn.Parameter(torch.zeros(num_buckets, heads))

    def forward(self, tq, tk):
        rel = torch.tensor([[j - i for j in range(tk)] for i in range(tq)])
        buckets = rel.clone().apply_(
            lambda r: relative_position_bucket(r, self.bidirectional, self.num_buckets, self.max_distance)
        )
        assert torch.equal(
            buckets, t5_buckets_vectorised(rel, self.bidirectional, self.num_buckets, self.max_distance)
        )
        return self.weight[buckets].permute(2, 0, 1)[None]  # (1,H,Tq,Tk)


class TransformerStack(nn.Module):
    def __init__(self, kind, n_layers, cfg):
        super().__init__()
        self.layers = nn.ModuleList(TransformerBlock(kind, cfg) for _ in range(n_layers))
        if cfg["positions"] == "relative":  # one bias per stack, shared by its layers
            self.relative_bias = RelativePositionBias(
                kind == "encoder", cfg["relative_buckets"], cfg["relative_max_distance"], cfg["n_heads"]
            )
        if cfg["final_norm"]:
            self.final_norm = Norm(cfg["d_model"], cfg["norm"], cfg["norm_eps"])

    def forward(self, x, padding, memory=None, memory_padding=None):
        bias = None
        if hasattr(self, "relative_bias"):
            bias = self.relative_bias(x.shape[1], x.shape[1])
        for layer in self.layers:
            x = layer(x, padding, bias, memory, memory_padding)
        return self.final_norm(x) if hasattr(self, "final_norm") else x


class LearnedPositions(nn.Module):
    def __init__(self, max_len, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(max_len, dim))


class InputEmbedding(nn.Module):
    """Token embedding (owned by the model) + learned positions [+ LayerNorm]."""

    def __init__(self, cfg):
        super().__init__()
        if cfg["positions"] == "learned":
            self.position = LearnedPositions(cfg["max_len"], cfg["d_model"])
        elif cfg["positions"] != "relative":
            raise NotImplementedError(cfg["positions"])
        if cfg["embedding_norm"]:
            self.norm = Norm(cfg["d_model"], "layernorm", cfg["norm_eps"])

    def forward(self, token_weight, ids):
        x = F.embedding(ids, token_weight)
        if hasattr(self, "position"):
            x = x + self.position.weight[: ids.shape[1]]
        if hasattr(self, "norm"):
            x = self.norm(x)
        return x


def tied_logits(h, token_weight, cfg):
    if not cfg["tie_embeddings"]:
        raise NotImplementedError("untied heads")
    if cfg["scale_tied_logits"]:
        h = h * cfg["d_model"] ** -0.5
    return h @ token_weight.t()


class BertModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = self.cfg = cfg
        self.token_embedding = nn.Embedding(c["vocab_size"], c["d_model"])
        self.embeddings = InputEmbedding(c)
        self.encoder = TransformerStack("encoder", c["n_layers"], c)
        self.pooler = nn.Linear(c["d_model"], c["d_model"])
        self.classifier = nn.Linear(c["d_model"], c["num_classes"])
        assert c["mlm_head"] and c["tie_embeddings"]
        self.mlm_dense = nn.Linear(c["d_model"], c["d_model"])
        self.mlm_norm = Norm(c["d_model"], "layernorm", c["norm_eps"])
        self.mlm_bias = nn.Parameter(torch.zeros(c["vocab_size"]))

    def encode(self, ids, padding):
        return self.encoder(self.embeddings(self.token_embedding.weight, ids), padding)

    def classify(self, hidden):  # tanh pooler on position 0 ([CLS]), then the classifier
        return self.classifier(torch.tanh(self.pooler(hidden[:, 0])))

    def mlm_logits(self, hidden):  # dense -> GELU(erf) -> LayerNorm -> tied decoder + bias
        h = self.mlm_norm(F.gelu(self.mlm_dense(hidden)))
        return tied_logits(h, self.token_embedding.weight, self.cfg) + self.mlm_bias


class GptModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = self.cfg = cfg
        self.token_embedding = nn.Embedding(c["vocab_size"], c["d_model"])
        self.embeddings = InputEmbedding(c)
        self.decoder = TransformerStack("decoder", c["n_layers"], c)

    def forward(self, ids, padding):
        h = self.decoder(self.embeddings(self.token_embedding.weight, ids), padding)
        return tied_logits(h, self.token_embedding.weight, self.cfg)


class T5Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = self.cfg = cfg
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"])
        self.encoder_embeddings = InputEmbedding(c)
        self.decoder_embeddings = InputEmbedding(c)
        self.encoder = TransformerStack("encoder", c["n_layers"], c)
        self.decoder = TransformerStack("encoder-decoder", c["n_decoder_layers"], c)

    def forward(self, src, src_padding, tgt, tgt_padding):
        memory = self.encoder(self.encoder_embeddings(self.shared.weight, src), src_padding)
        h = self.decoder(self.decoder_embeddings(self.shared.weight, tgt), tgt_padding, memory, src_padding)
        return tied_logits(h, self.shared.weight, self.cfg)


class PerceiverModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = self.cfg = cfg
        d = c["d_model"]
        norm = lambda: Norm(d, c["norm"], c["norm_eps"])
        self.token_embedding = nn.Embedding(c["vocab_size"], d)
        self.embeddings = InputEmbedding(c)
        self.latent_queries = nn.Parameter(torch.zeros(c["num_latents"], d))
        self.input_norm = norm()
        self.cross_attn_norm = norm()
        self.cross_attn = MultiHeadAttention(d, c["n_heads"], c["bias"], c["scale_scores"])
        self.cross_ffn_norm = norm()
        self.cross_ffn = FeedForward(d, c["d_ff"], c["activation"], c["bias"])
        self.latent = TransformerStack("encoder", c["n_layers"], c)
        self.classifier = nn.Linear(d, c["num_classes"])

    def forward(self, ids, padding):
        inputs = self.input_norm(self.embeddings(self.token_embedding.weight, ids))
        lat = self.latent_queries.expand(ids.shape[0], -1, -1)  # (B,L,C)
        read, _ = self.cross_attn(self.cross_attn_norm(lat), inputs, padding, False, None)
        lat = lat + read
        lat = lat + self.cross_ffn(self.cross_ffn_norm(lat))
        lat = self.latent(lat, None)  # latents attend to each other, nothing padded
        return self.classifier(lat.mean(dim=1))


# =============================================================================
# Configs: attnlab's presets (models/config.cpp) at about the size of
# tiny_config (models/gradcheck_models.cpp), with two layers per stack so that
# stacking is exercised, and d_model 6 rather than 8 so that parameters and
# gradients of all four models fit in < 200 KB. Head width 3 != 2 heads keeps
# a heads/width mix-up from going unnoticed.
# =============================================================================

BASE = dict(
    vocab_size=7, num_classes=3, d_model=6, n_heads=2, d_ff=12, n_layers=2, n_decoder_layers=2,
    max_len=8, dropout=0.0, norm="layernorm", norm_eps=1e-5, placement="pre", final_norm=True,
    embedding_norm=False, activation="gelu", bias=True, scale_scores=True, positions="learned",
    relative_buckets=8, relative_max_distance=16, tie_embeddings=True, scale_tied_logits=False,
    mlm_head=False, prefix_lm=False, num_latents=3, init_std=0.3, embedding_std=0.5, seed=1,
)
PRESETS = {
    "bert": dict(placement="post", final_norm=False, embedding_norm=True, mlm_head=True),
    "gpt": dict(activation="gelu_tanh"),
    "t5": dict(norm="rmsnorm", norm_eps=1e-6, positions="relative", bias=False,
               activation="relu", scale_tied_logits=True, embedding_std=1.0),
    "perceiver": dict(),
}


def config(family):
    c = dict(BASE, family=family)
    c.update(PRESETS[family])
    return c


def config_text(v):
    """A config value as attnlab's config_to_map prints it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


# =============================================================================
# Data helpers
# =============================================================================

gen = torch.Generator().manual_seed(20240611)


def randn(*shape, std=1.0):
    return torch.randn(*shape, generator=gen) * std


def randint(lo, hi, *shape):
    return torch.randint(lo, hi, shape, generator=gen)


def padding_mask(lengths, t):
    """(B,T) bool, True at padding (only ever at the end of a row)."""
    return torch.tensor([[j >= n for j in range(t)] for n in lengths])


def token_ids(lengths, t, vocab):
    ids = randint(1, vocab, len(lengths), t)
    return ids.masked_fill(padding_mask(lengths, t), 0)  # 0 marks padding; it is never attended


def randomise(model, cfg):
    """Weights away from their initial 1/0 values so every parameter matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            path = name.replace(".", "/")
            owner = path.split("/")[-2] if "/" in path else ""
            if owner.endswith("norm"):  # self_attn_norm, final_norm, embeddings/norm, ...
                p.copy_((1.0 if path.endswith("weight") else 0.0) + randn(*p.shape, std=0.2))
            elif path.endswith("bias"):
                p.copy_(randn(*p.shape, std=0.1))
            elif path in ("token_embedding/weight", "shared/weight"):
                p.copy_(randn(*p.shape, std=cfg["embedding_std"]))
            elif path.endswith("relative_bias/weight"):
                p.copy_(randn(*p.shape, std=0.5))
            else:
                p.copy_(randn(*p.shape, std=cfg["init_std"]))
    round_to_float32(model)


def np64(t):
    return t.detach().numpy().astype(np.float64)


def round_to_float32(module):
    """Parameters exactly representable in float32, so that params/ can be
    stored as float32 (half the bytes) and still hold exactly the values the
    float64 computation used. The C++ test widens them back on read."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.float().double())


class CompactFile:
    """An h5py file whose ~900 small objects do not cost more than the data.

    With HDF5's defaults every dataset header reserves room for attributes and
    every group header stores timestamps and room for four links; here that
    overhead would be larger than the numbers themselves. h5py has no binding
    for the dataset switch, so it is set through the HDF5 C library h5py is
    linked against (the same loaded instance, so h5py's ids are valid there)."""

    def __init__(self, path):
        # No timestamps anywhere, so that regenerating gives identical bytes.
        fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
        fcpl.set_obj_track_times(False)
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
        self.f = h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))
        self.gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        self.gcpl.set_obj_track_times(False)
        name = ctypes.util.find_library("hdf5_serial") or ctypes.util.find_library("hdf5")
        lib = ctypes.CDLL(name) if name else None
        if lib is not None and hasattr(lib, "H5Fset_dset_no_attrs_hint"):  # HDF5 >= 1.10.5
            lib.H5Fset_dset_no_attrs_hint(ctypes.c_int64(self.f.id.id), ctypes.c_uint(1))
            lib.H5Pset_est_link_info(ctypes.c_int64(self.gcpl.id), ctypes.c_uint(2), ctypes.c_uint(8))

    def group(self, path):
        if path in self.f:
            return self.f[path]
        parent, _, name = path.rpartition("/")
        h5py.h5g.create(self.group(parent).id if parent else self.f.id, name.encode(), gcpl=self.gcpl)
        return self.f[path]

    def dataset(self, path, data):
        parent, _, name = path.rpartition("/")
        self.group(parent).create_dataset(name, data=data)

    def close(self):
        self.f.close()


def write_case(out, case, description, cfg=None, inputs=(), params=(), outputs=(), grad_inputs=()):
    g = out.group(case)
    g.attrs["description"] = description
    if cfg is not None:
        config_group = out.group(case + "/config")
        for k, v in cfg.items():
            config_group.attrs[k] = config_text(v)
    for name, value in inputs:
        if value.dtype == torch.bool:
            data = value.numpy().astype(np.uint8)
        elif value.dtype in (torch.int64, torch.int32):
            data = value.numpy().astype(np.int32)
        else:
            data = np64(value)
        out.dataset(f"{case}/inputs/{name}", data)
    for path, p in params:
        assert torch.equal(p, p.float().double()), f"{case}: {path} is not float32-exact"
        out.dataset(f"{case}/params/{path}", p.detach().numpy().astype(np.float32))
        out.dataset(f"{case}/grad/{path}", np64(p.grad))
        # Every parameter must take part, or the gradient comparison checks nothing.
        assert p.grad.abs().max() > 0, f"{case}: {path} has no gradient"
    for name, value in outputs:
        out.dataset(f"{case}/outputs/{name}", np64(value))
    for name, value in grad_inputs:
        out.dataset(f"{case}/grad_inputs/{name}", np64(value.grad))


def named_params(module, rename=lambda n: n.replace(".", "/")):
    return [(rename(n), p) for n, p in module.named_parameters()]


# =============================================================================
# Cases
# =============================================================================

D, D_FF, B = 4, 6, 2  # the single-head modules' d_model = d_k, and d_ff


def textbook_weights(module):
    """Every weight drawn from `gen` (not torch's global stream), LayerNorms
    away from their 1/0 initial values so that they matter."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("norm"):
                p.copy_((1.0 if name.endswith("weight") else 0.0) + randn(*p.shape, std=0.2))
            elif name.endswith("bias"):
                p.copy_(randn(*p.shape, std=0.1))
            else:
                p.copy_(randn(*p.shape, std=0.5))
    round_to_float32(module)
    return module


def single_head_cases(out):
    size = f"d_model=d_k={D}"
    m = textbook_weights(SelfAttention(D, D))
    x = randn(B, 5, D).requires_grad_()
    pad = padding_mask([5, 3], 5)
    r = randn(B, 5, D)
    y, attn = m(x, pad)
    (y * r).sum().backward()
    write_case(out, "single_head_self_attention", f"single-head SelfAttention({size}), key padding; loss sum(out * R)",
               inputs=[("x", x), ("padding_mask", pad), ("R", r)],
               params=named_params(m, textbook_param_path), outputs=[("out", y), ("attn", attn)],
               grad_inputs=[("x", x)])

    m = textbook_weights(CausalSelfAttention(D, D))
    x = randn(B, 5, D).requires_grad_()
    r = randn(B, 5, D)
    y, attn = m(x)
    (y * r).sum().backward()
    write_case(out, "single_head_causal_self_attention", f"single-head CausalSelfAttention({size}); loss sum(out * R)",
               inputs=[("x", x), ("R", r)], params=named_params(m, textbook_param_path),
               outputs=[("out", y), ("attn", attn)], grad_inputs=[("x", x)])

    m = textbook_weights(CrossAttention(D, D))
    dec = randn(B, 4, D).requires_grad_()
    enc = randn(B, 6, D).requires_grad_()
    pad = padding_mask([6, 4], 6)
    r = randn(B, 4, D)
    y, attn = m(dec, enc, pad)
    (y * r).sum().backward()
    write_case(out, "single_head_cross_attention",
               f"single-head CrossAttention({size}), encoder padding; loss sum(out * R)",
               inputs=[("decoder_hidden", dec), ("encoder_output", enc), ("encoder_padding_mask", pad),
                       ("R", r)],
               params=named_params(m, textbook_param_path), outputs=[("out", y), ("attn", attn)],
               grad_inputs=[("decoder_hidden", dec), ("encoder_output", enc)])

    m = textbook_weights(EncoderDecoderBlock(D, D, D_FF))
    m.eval()  # dropout off
    dec = randn(B, 5, D).requires_grad_()
    enc = randn(B, 6, D).requires_grad_()
    pad = padding_mask([6, 2], 6)
    r = randn(B, 5, D)
    y, cross, self_w = m(dec, enc, pad)
    (y * r).sum().backward()
    write_case(out, "single_head_encoder_decoder_block",
               f"single-head EncoderDecoderBlock({size}, d_ff={D_FF}), eval mode, encoder padding; "
               "loss sum(out * R)",
               inputs=[("decoder_input", dec), ("encoder_output", enc), ("encoder_mask", pad), ("R", r)],
               params=named_params(m, textbook_param_path),
               outputs=[("out", y), ("cross_weights", cross), ("self_weights", self_w)],
               grad_inputs=[("decoder_input", dec), ("encoder_output", enc)])


def bert_case(f):
    cfg = config("bert")
    m = BertModel(cfg)
    randomise(m, cfg)
    lengths, t = [6, 4, 2], 6
    ids, pad = token_ids(lengths, t, cfg["vocab_size"]), padding_mask(lengths, t)
    labels = torch.tensor([2, 0, 1])
    mlm_targets = randint(0, cfg["vocab_size"], len(lengths), t)
    hide = pad | (torch.rand(pad.shape, generator=gen) < 0.4)  # MLM loss on some real tokens only
    hide[0, 1] = False
    mlm_targets = mlm_targets.masked_fill(hide, -100)
    hidden = m.encode(ids, pad)
    logits, mlm_logits = m.classify(hidden), m.mlm_logits(hidden)
    loss = F.cross_entropy(logits, labels) + F.cross_entropy(
        mlm_logits.reshape(-1, cfg["vocab_size"]), mlm_targets.reshape(-1), ignore_index=-100
    )
    loss.backward()
    write_case(f, "bert", "BERT preset: loss = CE(classify, labels) + CE(mlm_logits, mlm_targets, ignore -100)",
               cfg, inputs=[("ids", ids), ("padding", pad), ("labels", labels), ("mlm_targets", mlm_targets)],
               params=named_params(m),
               outputs=[("logits", logits), ("mlm_logits", mlm_logits), ("loss", loss)])


def gpt_case(f):
    cfg = config("gpt")
    m = GptModel(cfg)
    randomise(m, cfg)
    lengths, t = [7, 5, 3], 7
    ids, pad = token_ids(lengths, t, cfg["vocab_size"]), padding_mask(lengths, t)
    # Next-token targets; nothing to predict after a row's last real token.
    targets = torch.full_like(ids, -100)
    for b, n in enumerate(lengths):
        targets[b, : n - 1] = ids[b, 1:n]
    logits = m(ids, pad)
    loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), targets.reshape(-1), ignore_index=-100)
    loss.backward()
    write_case(f, "gpt", "GPT preset: next-token CE(logits, targets, ignore -100)", cfg,
               inputs=[("ids", ids), ("padding", pad), ("targets", targets)], params=named_params(m),
               outputs=[("logits", logits), ("loss", loss)])


def t5_case(f):
    cfg = config("t5")
    m = T5Model(cfg)
    randomise(m, cfg)
    src_len, tgt_len, ts, tt = [7, 4, 6], [6, 3, 5], 7, 6
    src, src_pad = token_ids(src_len, ts, cfg["vocab_size"]), padding_mask(src_len, ts)
    tgt, tgt_pad = token_ids(tgt_len, tt, cfg["vocab_size"]), padding_mask(tgt_len, tt)
    targets = randint(0, cfg["vocab_size"], len(tgt_len), tt).masked_fill(tgt_pad, -100)
    smoothing = 0.1
    logits = m(src, src_pad, tgt, tgt_pad)
    loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), targets.reshape(-1), ignore_index=-100,
                           label_smoothing=smoothing)
    loss.backward()
    write_case(f, "t5", "T5 preset: seq2seq CE(logits, targets, ignore -100, label smoothing 0.1)", cfg,
               inputs=[("src", src), ("src_padding", src_pad), ("tgt", tgt), ("tgt_padding", tgt_pad),
                       ("targets", targets), ("label_smoothing", torch.tensor(smoothing))],
               params=named_params(m), outputs=[("logits", logits), ("loss", loss)])


def perceiver_case(f):
    cfg = config("perceiver")
    m = PerceiverModel(cfg)
    randomise(m, cfg)
    lengths, t = [6, 3, 1], 6
    ids, pad = token_ids(lengths, t, cfg["vocab_size"]), padding_mask(lengths, t)
    labels = torch.tensor([1, 2, 0])
    logits = m(ids, pad)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    write_case(f, "perceiver", "Perceiver preset: CE(classify, labels)", cfg,
               inputs=[("ids", ids), ("padding", pad), ("labels", labels)], params=named_params(m),
               outputs=[("logits", logits), ("loss", loss)])


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    out = CompactFile(OUT)
    out.f.attrs["generator"] = "tests/make_reference.py"
    out.f.attrs["torch_version"] = str(torch.__version__)
    single_head_cases(out)
    bert_case(out)
    gpt_case(out)
    t5_case(out)
    perceiver_case(out)
    out.close()
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
