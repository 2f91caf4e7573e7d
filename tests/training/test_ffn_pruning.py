"""Narrowed feed-forward blocks: the pruning keeps what it keeps exactly, and the loader serves it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from healthtag.models.tuned_layers import TunedLayersError, apply_tuned_layers, save_tuned_layers
from healthtag.training.distill_config import DistillConfig
from healthtag.training.ffn_pruning import ffn_importance, prune_ffn, prune_student_ffn
from transformers import BertConfig, BertModel


def tiny_bert(seed: int = 0, ffn: int = 64) -> BertModel:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=ffn, max_position_embeddings=64)
    return BertModel(config, add_pooling_layer=False).eval()


def windows(n: int = 6, width: int = 20, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, width + 1, size=n).astype(np.int32)
    ids = np.zeros((n, width), dtype=np.int32)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(5, 100, size=length)
    return ids, lengths


def encode(model: BertModel, ids: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
    mask = (torch.arange(ids.shape[1])[None, :] < torch.from_numpy(lengths)[:, None]).long()
    with torch.inference_mode():
        return model(input_ids=torch.from_numpy(ids.astype(np.int64)), attention_mask=mask).last_hidden_state


def test_a_pruned_layer_computes_exactly_what_the_full_layer_computes_without_the_dropped_neurons():
    ids, lengths = windows()
    full, pruned = tiny_bert(), tiny_bert()
    keep = torch.tensor([40, 3, 17, 8, 63, 22])
    dropped = sorted(set(range(64)) - set(keep.tolist()))
    with torch.no_grad():
        for layer in full.encoder.layer:
            layer.output.dense.weight[:, dropped] = 0.0     # the dropped neurons then add nothing
    for layer in pruned.encoder.layer:
        prune_ffn(layer, keep)
    assert pruned.encoder.layer[0].intermediate.dense.weight.shape == (6, 32)
    assert pruned.encoder.layer[0].output.dense.weight.shape == (32, 6)
    assert torch.allclose(encode(full, ids, lengths), encode(pruned, ids, lengths), atol=1e-5)
    assert not torch.allclose(encode(tiny_bert(), ids, lengths), encode(pruned, ids, lengths), atol=1e-3)


def test_importance_ranks_neurons_that_add_nothing_last_and_pruning_drops_them():
    ids, lengths = windows()
    model = tiny_bert()
    silent = [5, 9, 30, 31]
    with torch.no_grad():
        for layer in model.encoder.layer:
            layer.output.dense.weight[:, silent] = 0.0
    scores = ffn_importance(model, ids, lengths, batch=4)
    assert len(scores) == 2 and all(s.shape == (64,) for s in scores)
    assert all(float(s[silent].max()) == 0.0 and float(s.min()) >= 0.0 for s in scores)
    reference = encode(model, ids, lengths)
    before = prune_student_ffn(model, ids, lengths, 60)
    assert before == [64, 64] and all(layer.intermediate.dense.out_features == 60 for layer in model.encoder.layer)
    assert torch.allclose(encode(model, ids, lengths), reference, atol=1e-5)   # only silent neurons went
    with pytest.raises(ValueError, match="ffn_size"):
        prune_student_ffn(model, ids, lengths, 60)


def saved_narrow_student(tmp_path) -> tuple[BertModel, object, np.ndarray, np.ndarray]:
    """A tiny student narrowed to 16 neurons per layer, its layers file, and the windows it was pruned on."""
    ids, lengths = windows()
    student = tiny_bert(seed=3)
    prune_student_ffn(student, ids, lengths, 16)
    path = tmp_path / "fast_layers.safetensors"
    save_tuned_layers(student, [0, 1], path)
    return student, path, ids, lengths


def test_narrowed_layers_load_into_a_full_width_encoder_and_serve_the_same_states(tmp_path):
    student, path, ids, lengths = saved_narrow_student(tmp_path)
    served = tiny_bert(seed=3)                              # full width, same embeddings, other layer weights
    with torch.no_grad():
        for param in served.encoder.parameters():
            param.add_(0.5)
    assert not torch.allclose(encode(served, ids, lengths), encode(student, ids, lengths), atol=1e-3)
    assert apply_tuned_layers(served, path) == [0, 1]
    assert served.encoder.layer[1].intermediate.dense.out_features == 16
    assert torch.allclose(encode(served, ids, lengths), encode(student, ids, lengths), atol=1e-6)


def test_a_file_whose_feed_forward_matrices_disagree_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    _, path, _, _ = saved_narrow_student(tmp_path)
    state = load_file(str(path))
    state["encoder.layer.1.output.dense.weight"] = torch.zeros(32, 20)   # the second matrix says 20 neurons
    save_file(state, str(path))
    with pytest.raises(TunedLayersError, match="layer 1's feed-forward matrices disagree"):
        apply_tuned_layers(tiny_bert(), path)
    wider = tiny_bert(ffn=96)
    save_tuned_layers(wider, [0], path)
    with pytest.raises(TunedLayersError):
        apply_tuned_layers(tiny_bert(), path)


def test_ffn_size_is_checked():
    assert DistillConfig().ffn_size is None and DistillConfig(ffn_size=8).ffn_size == 8
    with pytest.raises(ValueError, match="ffn_size"):
        DistillConfig(ffn_size=0)
