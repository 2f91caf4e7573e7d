"""Seed a run directory whose config caps general news (`data.general_windows`) from a finished uncapped run.

Why: measuring the cap's effect on the dev figures needs the capped pool's tuned vectors, and a run from an
empty folder spends about 44 minutes of the 2-core CPU recomputing two things that the cap cannot change:

- the lower layers' states of a window depend on that window's tokens only, and a capped article's windows are
  the first windows of the same article uncapped, so its stored states are a subset of rows of the uncapped run's;
- fine-tuning reads each article's first ``finetune.train_windows`` windows in an order drawn from the number of
  articles, so as long as the cap keeps those windows the tuning sees the same batches and gives the same layers.

This script writes the capped run's lower-state cache from the uncapped one (rows selected, nothing recomputed)
and copies the uncapped run's tuned layers under the key the capped config looks for. `train` with the capped
config then computes only the tuned vectors, the heads and the calibration. Timing from scratch still needs a
run from an empty folder; this one is for the quality comparison only.

    python scripts/derive_capped_run.py --config runs/exp/s25/G.yaml --from-config configs/default.yaml
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from datasets import load_from_disk
from healthtag.models.encoder_cache import building
from healthtag.models.runtime import build_article_encoder
from healthtag.training.config import TrainConfig, load_train_config
from healthtag.training.features import cache_key
from healthtag.training.finetune import split_settings, target_column, tokenize_all, tuning_path


def lower_dir(config: TrainConfig, weak, caps) -> Path:
    """The folder `finetune.lower_states` reads for ``config`` under these token caps."""
    lower = split_settings(config.encoder, config.finetune.layers)
    key = cache_key(lower, (-1,), caps, weak["title"], weak["sentences"])
    return config.run_path / "finetune" / f"lower-{key}"


def derive(capped: TrainConfig, uncapped: TrainConfig) -> None:
    if capped.data.general_windows is None:
        sys.exit(f"{capped.name}: data.general_windows is not set; nothing to derive")
    if capped.data.general_windows < capped.finetune.train_windows:
        sys.exit("the cap keeps fewer windows than fine-tuning reads: the tuning would differ; run train instead")
    weak = load_from_disk(str(uncapped.run_path / "weak" / "dataset"))
    full_caps, caps = uncapped.token_caps(weak["source"]), capped.token_caps(weak["source"])
    source, target = lower_dir(uncapped, weak, full_caps), lower_dir(capped, weak, caps)
    if not (source / "done.json").exists():
        sys.exit(f"{source}: no finished lower-state cache in the uncapped run")
    tok, _ = build_article_encoder(split_settings(capped.encoder, capped.finetune.layers))
    titles, sentences = weak["title"], weak["sentences"]
    full = tokenize_all(tok, titles, sentences, capped.encoder, full_caps)
    short = tokenize_all(tok, titles, sentences, capped.encoder, caps)
    meta = json.loads((source / "done.json").read_text(encoding="utf-8"))
    first = np.cumsum([0] + [len(t.windows) for t in full])
    if int(first[-1]) != meta["windows"]:
        sys.exit(f"{source}: {meta['windows']} windows stored, the pool has {int(first[-1])}: not this pool")
    rows = []
    for a, (f, s) in enumerate(zip(full, short)):
        if s.windows != f.windows[:len(s.windows)] or s.ids != f.ids[:len(s.ids)]:
            sys.exit(f"article {a}: its capped windows are not a prefix of its uncapped ones")
        rows.extend(range(int(first[a]), int(first[a]) + len(s.windows)))
    window, hidden = capped.encoder.window, meta["hidden"]
    states = np.memmap(source / "states.f16", dtype=np.float16, mode="r", shape=(meta["windows"], window, hidden))
    lengths = np.load(source / "lengths.npy")
    if not (target / "done.json").exists():
        with building(target) as tmp:
            out = np.memmap(tmp / "states.f16", dtype=np.float16, mode="w+", shape=(len(rows), window, hidden))
            for start in range(0, len(rows), 1024):
                out[start:start + 1024] = states[rows[start:start + 1024]]
            out.flush()
            np.save(tmp / "lengths.npy", lengths[rows])
            (tmp / "done.json").write_text(json.dumps({"windows": len(rows), "hidden": hidden}), encoding="utf-8")
    print(f"{target}: {len(rows)} of {meta['windows']} windows")
    targets = np.asarray(weak[target_column(capped.finetune, weak)], dtype=np.float32)
    tuned_from = tuning_path(titles, sentences, targets, uncapped.encoder, uncapped.finetune, full_caps,
                             uncapped.run_path)
    tuned_to = tuning_path(titles, sentences, targets, capped.encoder, capped.finetune, caps, capped.run_path)
    if not tuned_from.exists():
        sys.exit(f"{tuned_from}: the uncapped run has no tuned layers of this recipe")
    for suffix in (".safetensors", ".json"):
        shutil.copyfile(tuned_from.with_suffix(suffix), tuned_to.with_suffix(suffix))
    print(f"{tuned_to}: copied from {tuned_from}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="the capped config (data.general_windows set)")
    parser.add_argument("--from-config", type=Path, required=True, help="the finished uncapped run's config")
    args = parser.parse_args(argv)
    capped, uncapped = load_train_config(args.config), load_train_config(args.from_config)
    recipe = [capped.encoder, capped.finetune, capped.data.max_train_tokens]
    if recipe != [uncapped.encoder, uncapped.finetune, uncapped.data.max_train_tokens]:
        sys.exit("the two configs differ in more than the cap (encoder, finetune or max_train_tokens)")
    (capped.run_path / "finetune").mkdir(parents=True, exist_ok=True)
    derive(capped, uncapped)


if __name__ == "__main__":
    main()
