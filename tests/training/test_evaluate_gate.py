"""The gate set's figures per class: a mostly-general-news set hides how health stories fare."""
from __future__ import annotations

from support import FIXTURES

from healthtag.models.taxonomy import NON_HEALTH
from healthtag.training.evaluate import gate_accuracies, gate_by_class
from healthtag.training.gold import load_gold


def test_by_class_counts_add_up_to_the_accuracy():
    gate = load_gold(FIXTURES / "gold_labels_small.jsonl")
    general = [NON_HEALTH in labels for labels in gate.labels]
    assert 0 < sum(general) < len(general)
    verdicts = {"always general": [True] * len(general), "exact": list(general),
                "inverted": [not g for g in general]}
    by_class, accuracy = gate_by_class(gate, verdicts), gate_accuracies(gate, verdicts)
    assert by_class["always general"] == {"health_kept": 0, "health": len(general) - sum(general),
                                          "general_excluded": sum(general), "general": sum(general)}
    assert by_class["exact"]["health_kept"] == by_class["exact"]["health"] and accuracy["exact"] == 1.0
    assert by_class["inverted"]["health_kept"] == by_class["inverted"]["general_excluded"] == 0
    for name, c in by_class.items():
        assert accuracy[name] == round((c["health_kept"] + c["general_excluded"]) / len(general), 4)
