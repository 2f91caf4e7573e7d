"""The BERT encoder as plain torch modules, so that serving does not import transformers.

Importing transformers' BERT stack costs 2-3 s per process (it pulls in
``torch._dynamo`` and ``torch.distributed.tensor`` through its masking, kernel-hub and
weight-loading modules), which is a sixth of tagging the team's 307-article held-out
set on an AVX2 laptop-class CPU. The encoder itself is forty lines of torch.

The modules keep transformers' ``BertModel`` state-dict names and module tree
(``embeddings.word_embeddings``, ``encoder.layer.N.attention.self.query``, ...), so tuned
layers, FFN narrowing, int8 quantisation and distillation work on either, and the
forward pass runs the same operations in the same order, dropout included: in eval mode
the outputs, and in train mode (same seed) the outputs and gradients, are bit-identical
to transformers' (``tests/models/test_plain_bert.py``). Only absolute-position BERT
encoders are covered, which is what every encoder directory of this project is; anything
else goes through transformers (`supports`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class PlainBertError(RuntimeError):
    """The directory's model or tokenizer is not one the plain encoder can run."""


@dataclass
class PlainBertConfig:
    """The fields of a transformers ``BertConfig`` that the forward pass reads."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    model_type: str = "bert"

    @classmethod
    def from_json(cls, payload: dict) -> "PlainBertConfig":
        return cls(**{k: payload[k] for k in cls.__dataclass_fields__ if k in payload})


def supports(config: dict) -> str | None:
    """None if the plain encoder runs this ``config.json`` exactly; else why it does not."""
    if config.get("model_type") != "bert":
        return f"model_type {config.get('model_type')!r} is not bert"
    if config.get("hidden_act", "gelu") != "gelu":
        return f"activation {config.get('hidden_act')!r} is not gelu"
    if config.get("position_embedding_type", "absolute") != "absolute":
        return f"position embeddings {config.get('position_embedding_type')!r} are not absolute"
    if config.get("is_decoder") or config.get("add_cross_attention"):
        return "a decoder"
    if config.get("chunk_size_feed_forward"):
        return "chunked feed-forward"
    return None


@dataclass
class EncoderOutput:
    """What callers read from transformers' output: the last states and, on request, every layer's."""

    last_hidden_state: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...] | None = None


class Embeddings(nn.Module):
    def __init__(self, config: PlainBertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        batch, width = input_ids.shape
        positions = torch.arange(width, device=input_ids.device)[None, :]
        types = torch.zeros((batch, width), dtype=torch.long, device=input_ids.device)
        # the order of the sums is transformers': (word + type) + position, for the same rounding
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(types)
        embeddings = embeddings + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(embeddings))


class SelfAttention(nn.Module):
    def __init__(self, config: PlainBertConfig) -> None:
        super().__init__()
        if config.hidden_size % config.num_attention_heads:
            raise PlainBertError(f"hidden size {config.hidden_size} is not a multiple of "
                                 f"{config.num_attention_heads} heads")
        self.head_size = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        shape = (*states.shape[:-1], -1, self.head_size)
        query = self.query(states).view(shape).transpose(1, 2)
        key = self.key(states).view(shape).transpose(1, 2)
        value = self.value(states).view(shape).transpose(1, 2)
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask,
                                             dropout_p=self.dropout.p if self.training else 0.0,
                                             scale=self.head_size ** -0.5, is_causal=False)
        return out.transpose(1, 2).contiguous().reshape(*states.shape[:-1], -1).contiguous()


class DenseResidualNorm(nn.Module):
    """dense -> dropout -> LayerNorm(x + residual): BERT's attention output and FFN output blocks."""

    def __init__(self, config: PlainBertConfig, width_in: int) -> None:
        super().__init__()
        self.dense = nn.Linear(width_in, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(states)) + residual)


class Attention(nn.Module):
    def __init__(self, config: PlainBertConfig) -> None:
        super().__init__()
        self.self = SelfAttention(config)
        self.output = DenseResidualNorm(config, config.hidden_size)

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(states, mask), states)


class Intermediate(nn.Module):
    def __init__(self, config: PlainBertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(states))


class Layer(nn.Module):
    """One encoder layer; ``attention_mask`` is already the 4-D boolean mask (True: attend) or None."""

    def __init__(self, config: PlainBertConfig) -> None:
        super().__init__()
        self.attention = Attention(config)
        self.intermediate = Intermediate(config)
        self.output = DenseResidualNorm(config, config.intermediate_size)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        attended = self.attention(hidden_states, attention_mask)
        return self.output(self.intermediate(attended), attended)


class Encoder(nn.Module):
    def __init__(self, config: PlainBertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([Layer(config) for _ in range(config.num_hidden_layers)])


class PlainBertModel(nn.Module):
    """``BertModel(add_pooling_layer=False)``'s forward for ``input_ids`` and ``attention_mask`` only."""

    def __init__(self, config: PlainBertConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_hidden_states: bool = False) -> EncoderOutput:
        states = self.embeddings(input_ids)
        mask = attention_matrix(attention_mask, input_ids.shape[1])
        every = [states] if output_hidden_states else None
        for layer in self.encoder.layer:
            states = layer(states, attention_mask=mask)
            if every is not None:
                every.append(states)
        return EncoderOutput(states, tuple(every) if every is not None else None)


def attention_matrix(attention_mask: torch.Tensor | None, width: int) -> torch.Tensor | None:
    """The [B, 1, T, T] boolean mask transformers hands SDPA, or None where nothing is padding.

    None matters: SDPA without a mask takes other kernels, and transformers drops an all-ones
    mask too, so both encoders round alike.
    """
    if attention_mask is None:
        return None
    keep = attention_mask.bool()
    if bool(keep.all()):
        return None
    return keep[:, None, None, :].expand(keep.shape[0], 1, width, width)


def load_plain_bert(directory: Path, num_layers: int | None = None) -> PlainBertModel:
    """The encoder of a transformers BERT directory (``config.json`` + ``model.safetensors``), eval mode.

    With ``num_layers`` only the first that many layers are built and read: the model keeps 7 of
    the cached encoder's 12 layers and the fast path 2, and building and reading the others cost
    each process about 0.1 s and 80 MB for nothing.
    """
    from safetensors import safe_open

    directory = Path(directory)
    payload = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    why = supports(payload)
    if why:
        raise PlainBertError(f"{directory}: the plain encoder cannot run this model ({why})")
    files = sorted(directory.glob("*.safetensors"))
    if len(files) != 1:
        raise PlainBertError(f"{directory}: expected one .safetensors file, found {len(files)}")
    config = PlainBertConfig.from_json(payload)
    if num_layers is not None:
        if not 1 <= num_layers <= config.num_hidden_layers:
            raise PlainBertError(f"{directory}: asked for {num_layers} layers of {config.num_hidden_layers}")
        config.num_hidden_layers = num_layers
    # Built on the CPU and then overwritten: torch's meta device would skip the random initialisation
    # but its first use in a process imports 1.5 s of torch machinery.
    model = PlainBertModel(config)
    own = model.state_dict()
    with safe_open(str(files[0]), framework="pt") as handle:
        names = {k.removeprefix("bert."): k for k in handle.keys()
                 if not k.removeprefix("bert.").startswith(("pooler.", "cls."))
                 and _layer_index(k.removeprefix("bert.")) < config.num_hidden_layers}
        missing = sorted(set(own) - set(names))
        unexpected = sorted(set(names) - set(own))
        if missing or unexpected:
            raise PlainBertError(f"{files[0]}: weights do not match a BERT encoder "
                                 f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        state = {name: handle.get_tensor(names[name]) for name in own}
    model.load_state_dict(state)
    return model.eval()


def _layer_index(name: str) -> int:
    """The layer a weight name belongs to (``encoder.layer.<i>.…``); -1 for weights outside the layers."""
    match = re.match(r"encoder\.layer\.(\d+)\.", name)
    return int(match.group(1)) if match else -1


class PlainTokenizer:
    """The ``tokenizer.json`` of an encoder directory, called the way `chunking.tokenize_article` calls it."""

    def __init__(self, directory: Path) -> None:
        from tokenizers import Tokenizer

        directory = Path(directory)
        self.backend = Tokenizer.from_file(str(directory / "tokenizer.json"))
        settings_file = directory / "tokenizer_config.json"
        settings = json.loads(settings_file.read_text(encoding="utf-8")) if settings_file.exists() else {}
        self.bos_token_id = self._special(settings, "bos_token", "<s>")
        self.eos_token_id = self._special(settings, "eos_token", "</s>")
        self.pad_token_id = self._special(settings, "pad_token", "<pad>")
        self.model_max_length = int(settings.get("model_max_length", 512))

    def _special(self, settings: dict, key: str, default: str) -> int:
        token = settings.get(key, default)
        token = token.get("content", default) if isinstance(token, dict) else token
        index = self.backend.token_to_id(token)
        if index is None:
            raise PlainBertError(f"the tokenizer has no {key} {token!r}")
        return index

    def __call__(self, texts: Sequence[str], add_special_tokens: bool = False) -> dict[str, list[list[int]]]:
        encodings = self.backend.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encodings]}
