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
from pathlib import Path

import numpy as np
from healthtag.models.multitask import MultiTaskHeads

from .build_weak_dataset import LABEL_MODEL_TARGETS

log = logging.getLogger(__name__)


def label_model_heads(config, model_heads: MultiTaskHeads, model_fingerprint: str) -> tuple[MultiTaskHeads, str]:
    """Heads trained on the label model's own targets, and a digest naming them.

    Where the weak dataset has no separate label-model column, the model's heads already
    learn those targets, so they are returned as they are (digest ``"model"``).
    """
    from datasets import load_from_disk
    from safetensors.torch import load_file, save_file

    from .features import extract_features
    from .finetune import encoder_for
    from .heads_training import train_heads
    from .preflight import MissingInput
    from .train import reviewed_rows
    from .unit_labels import pool_rows

    run_dir = config.run_path
    dataset = run_dir / "weak" / "dataset"
    if not dataset.exists():
        raise MissingInput(f"{run_dir / 'weak'}: no weak dataset for distill.teacher_heads: label_model; "
                           "run python -m healthtag.training.train with this config first")
    weak = load_from_disk(str(dataset))
    if LABEL_MODEL_TARGETS not in weak.column_names:
        log.info("the model's heads already learn the label model's targets (data.general_gate: %s): distilling "
                 "against them", config.data.general_gate)
        return model_heads, "model"
    labels = json.loads((run_dir / "weak" / "label_names.json").read_text(encoding="utf-8"))
    settings = encoder_for(config, weak)
    features = extract_features(weak["title"], weak["sentences"], settings, max_tokens=config.data.max_train_tokens,
                                cache_dir=run_dir / "features", desc="weak-set vectors")
    data = pool_rows(weak, features, config, labels, target_column=LABEL_MODEL_TARGETS)
    reviewed, _ = reviewed_rows(config.data.labelled, labels, settings, run_dir, config.data.labelled_weight)
    if reviewed is not None:   # the model's heads learn from them too
        data = data.concat(reviewed)
    digest = hashlib.sha1(json.dumps([model_fingerprint, asdict(config.training), asdict(config.data)],
                                     sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(data.targets.numpy()).tobytes())
    key = digest.hexdigest()[:12]
    cached = run_dir / "distill" / f"heads-label_model-{key}.safetensors"
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
