"""`structgen compare` end to end on a reduced budget."""

from __future__ import annotations

import json

import pytest
import torch

from structgen import ConfigError
from structgen.cli import main
from structgen.compare import deep_merge, load_compare_config, median_table, validate_compare
from structgen.core import DataSplits, Split
from structgen.experiment import evaluation_conditions
from structgen_vectors.domain import VectorDomain

REDUCED = [
    "training.steps=30",
    "training.eval_samples=300",
    "data.train_size=2000",
    "data.eval_size=300",
    "generator.hidden=32",
    "discriminator.hidden=32",
]


def test_compare_mixture_end_to_end(tmp_path, capsys):
    out = tmp_path / "new" / "dir"
    args = ["compare", "mixture", "--seeds", "2", "--out", str(out), "--device", "cpu", "--no-progress"]
    for item in REDUCED:
        args += ["--set", item]
    assert main(args) == 0

    records = json.loads((out / "results.json").read_text())
    assert len(records) == 2 * 3 * 2
    assert {(r["dataset"], r["strategy"]) for r in records} == {
        (d, s) for d in ("ring", "grid") for s in ("gan", "vae", "energy")
    }
    for record in records:
        assert set(record) == {"dataset", "strategy", "seed", "seconds", "metrics"}
        assert record["seconds"] > 0
        assert set(record["metrics"]) >= {
            "modes_covered",
            "high_quality_fraction",
            "off_mode_fraction",
            "reverse_kl",
            "mmd2",
        }
        assert 0 <= record["metrics"]["high_quality_fraction"] <= 1
    assert (out / "ring.png").stat().st_size > 0
    assert (out / "grid.png").stat().st_size > 0

    printed = capsys.readouterr().out
    assert "medians over seeds" in printed
    assert "modes_covered" in printed


def test_compare_config_file(tmp_path, registry):
    path = tmp_path / "study.yaml"
    path.write_text(
        "datasets: [ring]\n"
        "seeds: 1\n"
        "base: {training: {steps: 5, batch_size: 32, eval_samples: 100}, generator: {name: mlp, hidden: 16}}\n"
        "strategies:\n"
        "  plain: {strategy: {name: gan}}\n"
        "  minimax: {strategy: {name: gan, loss: minimax}}\n"
    )
    compare = load_compare_config(str(path), registry)
    resolved = validate_compare(compare, registry)
    assert resolved[("ring", "minimax", 0)].strategy.params.loss == "minimax"
    assert resolved[("ring", "plain", 0)].generator.params.hidden == 16


def test_compare_rejects_bad_run_before_training(tmp_path, registry):
    path = tmp_path / "study.yaml"
    path.write_text("datasets: [ring]\nstrategies:\n  bad: {strategy: {name: gan, lr_g: -1}}\n")
    compare = load_compare_config(str(path), registry)
    with pytest.raises(ConfigError, match="ring/bad: strategy.lr_g"):
        validate_compare(compare, registry)


def test_compare_unknown_task_lists_tasks(registry):
    with pytest.raises(ConfigError, match="registered tasks: digits, mixture"):
        load_compare_config("cifar", registry)


def test_deep_merge_keeps_nested_fields():
    merged = deep_merge({"training": {"steps": 1, "batch_size": 2}}, {"training": {"steps": 5}})
    assert merged == {"training": {"steps": 5, "batch_size": 2}}


def test_median_table_takes_median_over_seeds():
    records = [
        {"dataset": "ring", "strategy": "gan", "seed": s, "seconds": 1.0, "metrics": {"m": v}}
        for s, v in enumerate([1.0, 9.0, 2.0])
    ]
    header, rows = median_table(records)
    assert rows == [["ring", "gan", "3", "1.0", "2"]]
    assert header[-1] == "m"


def test_compare_keeps_earlier_results(tmp_path, capsys):
    out = tmp_path / "study"
    out.mkdir()
    (out / "results.json").write_text("[]")
    assert main(["compare", "mixture", "--out", str(out), "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "results.json").read_text() == "[]"


def _splits_with_conditions(paired: bool) -> DataSplits:
    domain = VectorDomain(2, -1.0, 1.0)
    split = Split(torch.zeros(5, 2), torch.arange(5))
    return DataSplits(domain, split, split, split, info={"paired": paired})


def test_evaluation_conditions_draw_test_conditions_with_replacement() -> None:
    conditions = evaluation_conditions(_splits_with_conditions(paired=False), 200, seed=0)
    assert conditions is not None and len(conditions) == 200
    assert set(conditions.tolist()) == {0, 1, 2, 3, 4}


def test_evaluation_conditions_of_paired_data_keep_the_test_order() -> None:
    conditions = evaluation_conditions(_splits_with_conditions(paired=True), 200, seed=0)
    assert conditions is not None
    assert conditions.tolist() == [0, 1, 2, 3, 4]
