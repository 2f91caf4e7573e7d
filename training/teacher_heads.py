"""The heads a fast-path student learns to reproduce, when they are not the model's own.

`distill` trains the student on the teacher's token states and on the logits that a
set of heads reads from them. Normally those heads are the model's. The shipped recipe
gives general news's health-gate targets from pattern Bayes to the model's heads only
(``data.general_gate: pattern_bayes``); its tuned layers learn the label model's own
targets (``finetune.targets: label_model``). The shipped student was distilled before
that change, against heads that learn the label model's targets, and it is the one that
passed the adoption rule with the pattern-Bayes heads (docs/experiments.md, 2026-12-07).
``distill.teacher_heads: label_model`` is that recipe, so the documented commands rebuild
the shipped kind of student: heads trained like the model's, with the same training
section and rows, on the weak dataset's ``label_model_soft_labels`` column. It is not a
measured improvement: students distilled against either set of heads agree with the full
path within the spread of student seeds. The heads serve the distillation only and are
kept in the run directory, keyed by what they depend on.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict

import numpy as np
from healthtag.models.multitask import MultiTaskHeads

from .build_weak_dataset import LABEL_MODEL_TARGETS

log = logging.getLogger(__name__)


def label_model_heads(config, model_heads: MultiTaskHeads, model_fingerprint: str) -> tuple[MultiTaskHeads, str]:
    """Heads trained on the label model's own targets, and a digest naming them.

    Where the weak dataset has no separate label-model column, the model's heads already
    learn those targets, so they are returned as they are (digest ``"model"``).
    """
    from safetensors.torch import load_file, save_file

    from .crossfit import load_weak_dataset, weak_training_rows
    from .heads_training import train_heads
    from .train import reviewed_rows

    weak, labels = load_weak_dataset(config)
    if LABEL_MODEL_TARGETS not in weak.column_names:
        log.info("the model's heads already learn the label model's targets (data.general_gate: %s): distilling "
                 "against them", config.data.general_gate)
        return model_heads, "model"
    data, settings = weak_training_rows(config, weak, labels, target_column=LABEL_MODEL_TARGETS)
    reviewed, _ = reviewed_rows(config.data.labelled, labels, settings, config.run_path, config.data.labelled_weight)
    if reviewed is not None:   # the model's heads learn from them too
        data = data.concat(reviewed)
    digest = hashlib.sha1(json.dumps([model_fingerprint, asdict(config.training), asdict(config.data)],
                                     sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(data.targets.numpy()).tobytes())
    key = digest.hexdigest()[:12]
    cached = config.run_path / "distill" / f"heads-label_model-{key}.safetensors"
    heads = MultiTaskHeads(model_heads.hidden, model_heads.n_outputs, model_heads.head_hidden)
    if cached.is_file():
        heads.load_state_dict(load_file(str(cached)))
        log.info("reusing the label-model teacher heads %s", cached)
    else:
        log.info("training heads on the label model's targets for the student to learn from (%d rows)", len(data))
        heads, _ = train_heads(data, config.training)
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(".tmp")
        save_file(heads.state_dict(), str(temporary))
        temporary.replace(cached)   # a run killed mid-write leaves no half file under the cache name
    heads.eval()
    return heads, key
