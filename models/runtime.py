"""The encoder as the product runs it: trimmed, optionally cut to N layers, bf16 on CPU.

Training features and inference must come from the same encoder variant,
or the heads and thresholds would be fitted to vectors they never see at
run time; both call :func:`build_article_encoder` with the same settings,
which a model directory records in its ``config.json``.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import torch

from .cpu_info import isa_limits
from .encoder import load_encoder
from .encoder_settings import PRECISIONS, EncoderSettings
from .multitask import ArticleEncoder
from .tuned_layers import apply_tuned_layers
from .vocab_trim import load_kept_vocab, trimmed_tokenizer_path


def bf16_is_fast() -> bool:
    """True where the CPU has native bf16 dot products (AVX512-BF16 or AMX) that oneDNN uses."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(requested: str, fallback: str = "fp32") -> str:
    """The precision to run: bf16 falls back to ``fallback`` on CPUs without native bf16.

    bf16 and fp32 give the same pooled vectors (cosine >= 0.9999 on corpus
    articles), so a model trained on one runs on the other unchanged; bf16 is
    only a speed choice. int8 (`int8_linears`) moves the vectors a little, so it
    is substituted only where a model directory names it as its fallback, which
    it does for a path whose int8 run was validated (``fast.validation``).
    """
    if requested == "bf16" and not bf16_is_fast():
        return fallback
    return requested


def describe_precision(requested: str, fallback: str = "fp32", asked: str = "as the model's config asks",
                       int8_layers: Sequence[int] | None = None) -> str:
    """One line saying which arithmetic the encoder runs in on this CPU, and why.

    ``asked`` says who chose a precision that runs as chosen (the model's config, or a user's
    ``--precision``); a bf16 request that falls back is explained by the CPU whoever made it."""
    running = resolve_precision(requested, fallback)
    if requested == "bf16" and running != "bf16":
        limits = isa_limits()
        why = ("bf16 kernels are capped off by " + ", ".join(f"{k}={v}" for k, v in limits.items())
               if limits else "this CPU has no native bf16")
        if running == "int8":
            plural = "s" if int8_layers and len(int8_layers) > 1 else ""
            where = f" of layer{plural} {', '.join(map(str, int8_layers))}" if int8_layers else ""
            return (f"encoder runs in int8 (attention and first FFN matrices{where}; the rest fp32): {why}, "
                    "and this model validated int8 as its fallback")
        return f"encoder runs in fp32: {why} (bf16's vectors up to rounding, slower)"
    if running == "bf16":
        return "encoder runs in bf16: this CPU has native bf16 dot products"
    return f"encoder runs in {running}, {asked}"


def int8_linears(model: torch.nn.Module, layers: Sequence[int] | None = None) -> set[str]:
    """The Linears that int8 keeps close: attention projections and the FFN's first matrix.

    The FFN's second matrix reads the GELU output, where a few channels are far larger than
    the rest; one int8 scale per row then flattens the others (article vectors of the 7-layer
    encoder at cosine 0.84-0.87 to fp32 when it is quantised too, 0.995-0.997 when it stays fp32).
    ``layers`` limits them to those encoder layers (None: all): the top layer decides the
    abstract most, so a student may keep it in fp32.
    """
    keep = None if layers is None else tuple(f"encoder.layer.{k}." for k in layers)
    return {name for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and not (name.endswith("output.dense") and ".attention." not in name)
            and (keep is None or name.startswith(keep))}


def quantize_dynamic_int8(model: torch.nn.Module, layers: Sequence[int] | None = None) -> torch.nn.Module:
    """Dynamic int8 for `int8_linears` (int8 weights, activations quantised per call), the rest fp32.

    Weights get one scale per output row, not one per matrix: a row of small weights then keeps
    its resolution. Same speed; on 64 pool windows of the 2-layer student (forced AVX2) the token
    states' mean cosine to fp32 rose from 0.9991 to 0.9994 and the worst window mean's from
    0.99962 to 0.99986.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        names = int8_linears(model, layers)
        missing = [k for k in (layers or ()) if not any(n.startswith(f"encoder.layer.{k}.") for n in names)]
        if missing:
            raise ValueError(f"int8_layers {list(layers)}: the encoder has no layer {missing[0]} "
                             f"({len(model.encoder.layer)} layers, numbered from 0)")
        return quantize_dynamic(model, {name: per_channel_dynamic_qconfig for name in names},
                                dtype=torch.qint8)


def windows_per_forward(precision: str, batch_windows: int) -> int:
    """How many windows one encoder call takes: one in int8, ``batch_windows`` otherwise.

    Dynamic int8 quantises each Linear's input with one scale for the whole batch, padding
    included, so a window's vectors would depend on the windows batched with it: the same
    article could get other scores (and, near a threshold, other tags) in another batch, after
    ``--resume`` or on Ray. One window per call makes each article's result its own; on FBGEMM
    it was also faster and leaner (2-core Xeon forced to AVX2, fast path: 17.8 against 16.8
    articles/s, 525 against 737 MB). bf16 and fp32 keep batches: oneDNN compiles a kernel per
    shape, and single windows of every length made bf16 a third slower.
    """
    return 1 if precision == "int8" else batch_windows


def padded_width(precision: str, window: int) -> int | None:
    """bf16 and fp32 batches are padded to at most a full window (``window`` counts <s> and </s>; fp32 to
    its `width_step`); int8 runs unpadded.

    Attention and matrix kernels round differently for different sequence widths, so a
    window's vectors moved in the fourth decimal with the width its batch happened to have
    (bf16: 5 of 300 records differed between two batch sizes; fp32 forced to AVX2: 32 of 50
    articles' vectors differed when tagged alone). At one fixed width they are the same in
    any batch of two or more windows (`ArticleEncoder` gives a lone window an empty second
    row, since one row takes other kernels). It costs nothing measurable: fixed shapes let
    oneDNN reuse its compiled bf16 kernels (fast path 42.6 against 39.7 articles/s), and
    fp32 ran at 5.2 against 5.1. int8 needs no padding: it runs one window per call
    (`windows_per_forward`).
    """
    return window if precision in ("bf16", "fp32") else None


def width_step(precision: str) -> int | None:
    """fp32 pads each window to the next multiple of 64 tokens rather than to a full window.

    An article's last window is short (on 1,000 corpus articles, full-window padding ran 10 %
    more tokens than the windows hold; on the held-out texts 15 %), and fp32 pays for every padded
    token. Windows of one width are batched together, so a window's width, and with it its
    rounding, stays its own in any batch: 30 corpus articles encoded alone, in threes and in
    sixteens gave bit-identical vectors. On the fast path forced to AVX2 on one thread (2-core AMD
    EPYC) the encoder ran 9.8 against 8.9 articles/s. bf16 keeps full windows: there it measured
    no faster (24.5-26.4 either way, native, two threads) and each new width is a new oneDNN kernel.
    """
    return 64 if precision == "fp32" else None


def build_article_encoder(settings: EncoderSettings, layers: tuple[int, ...] = (-1,), *, allow_pickle: bool = False):
    """Tokenizer and :class:`ArticleEncoder` for these settings (eval mode, no grad needed).

    A BERT encoder runs as `plain_bert` modules (outputs identical to transformers', without its
    2-3 s of imports); training and serving both come through here, so they run the same code.
    """
    kept_ids, trimmed_tokenizer = None, None
    if settings.kept_vocab:
        payload = load_kept_vocab(Path(settings.kept_vocab))
        kept_ids = payload["ids"]
        shipped = trimmed_tokenizer_path(Path(settings.kept_vocab))
        trimmed_tokenizer = shipped if shipped.exists() else None
    encoder = load_encoder(settings.spec, kept_ids=kept_ids, allow_pickle=allow_pickle,
                           trimmed_tokenizer=trimmed_tokenizer, plain=True, num_layers=settings.num_layers)
    model = encoder.model
    if settings.num_layers is not None:   # a no-op for the plain encoder, which built only these
        model.encoder.layer = model.encoder.layer[: settings.num_layers]
        model.config.num_hidden_layers = settings.num_layers
    if settings.tuned_layers:
        apply_tuned_layers(model, settings.tuned_layers)
    model.eval()
    precision = resolve_precision(settings.precision, settings.fallback)
    if precision == "int8":
        model = quantize_dynamic_int8(model, settings.int8_layers)
    elif precision == "bf16":
        model = model.to(torch.bfloat16)
    tok = encoder.tokenizer
    tok.model_max_length = 10**9   # we cut windows ourselves; silence the 512-token warning
    article_encoder = ArticleEncoder(model, tok.bos_token_id, tok.eos_token_id, tok.pad_token_id,
                                     batch_windows=windows_per_forward(precision, settings.batch_windows), layers=layers,
                                     pad_to=padded_width(precision, settings.window), width_step=width_step(precision))
    return tok, article_encoder


__all__ = ["EncoderSettings", "PRECISIONS", "bf16_is_fast", "build_article_encoder", "describe_precision", "int8_linears",
           "padded_width", "quantize_dynamic_int8", "resolve_precision", "width_step", "windows_per_forward"]
