"""`structgen compare` end to end on a reduced budget."""

from __future__ import annotations

import json

import pytest
import torch

from structgen import ConfigError
from structgen.cli import main
from structgen.compare import (
    CompareConfig,
    deep_merge,
    load_compare_config,
    median_table,
    real_floor_objects,
    run_compare,
    summary_table,
    validate_compare,
)
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


def test_mean_std_table_uses_the_sample_deviation():
    records = [
        {"dataset": "ring", "strategy": "gan", "seed": s, "seconds": 2.0, "metrics": {"m": v}}
        for s, v in enumerate([1.0, 9.0, 2.0])
    ] + [{"dataset": "ring", "strategy": "energy", "seed": 0, "seconds": 5.0, "metrics": {"m": 3.0}}]
    header, rows = summary_table(records, "mean_std")
    assert header == ["dataset", "strategy", "seeds", "seconds", "m"]
    # mean 4, sample standard deviation sqrt(((-3)^2 + 5^2 + (-2)^2) / 2) = sqrt(19) = 4.36
    assert rows == [["ring", "gan", "3", "2.0 ± 0", "4 ± 4.4"], ["ring", "energy", "1", "5.0", "3"]]


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


TEXT_COMPARE = {
    "base": {
        "generator": {"name": "gru", "hidden": 16, "embedding_dim": 8},
        "training": {"steps": 20, "batch_size": 8, "log_every": 10, "eval_samples": 20},
        "metrics": ["uniqueness"],
    },
    "strategies": {
        "mle": {"strategy": {"name": "mle", "lr": 0.05}},
        "continued": {"strategy": {"name": "mle", "lr": 1e-9}, "training": {"steps": 1}},
    },
    "start_from": {"continued": "mle"},
    "seeds": 2,
}


def _text_compare(tmp_path, **changes) -> CompareConfig:
    path = tmp_path / "names.txt"
    path.write_text("\n".join(["anna", "bob", "carla", "dora", "emil", "fynn", "greta", "hugo"]) + "\n")
    values = {**TEXT_COMPARE, "datasets": [{"name": "text_file", "path": str(path), "max_length": 6}], **changes}
    return CompareConfig.model_validate(values)


def test_start_from_continues_the_earlier_runs_generator(tmp_path, registry, monkeypatch) -> None:
    import structgen.compare as compare_module

    finished = {}
    original = compare_module.run_one

    def recording_run_one(resolved, registry, label, progress, start=None):
        experiment, record, samples = original(resolved, registry, label, progress, start)
        finished[(label, resolved.config.seed)] = experiment.strategy.generator.state_dict()
        return experiment, record, samples

    monkeypatch.setattr(compare_module, "run_one", recording_run_one)
    records = run_compare(_text_compare(tmp_path), registry, tmp_path / "out")

    assert [record.get("start_from") for record in records] == [None, None, "mle", "mle"]
    for seed in (0, 1):
        source, continued = finished[("mle", seed)], finished[("continued", seed)]
        for name, value in source.items():
            assert torch.allclose(value, continued[name], atol=1e-6), (seed, name)
    # The two seeds train different models, so each continued run took its own seed's weights.
    weight = "embedding.weight"
    assert not torch.allclose(finished[("mle", 0)][weight], finished[("mle", 1)][weight])


@pytest.mark.parametrize(
    ("start_from", "message"),
    [({"continued": "later"}, "not a strategy listed before"), ({"nope": "mle"}, "not one of the strategies")],
)
def test_start_from_rejects_unknown_or_later_labels(tmp_path, registry, start_from, message) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_compare(_text_compare(tmp_path, start_from=start_from), registry)


def test_strategy_seeds_run_fewer_seeds_of_one_strategy(tmp_path, registry) -> None:
    compare = _text_compare(tmp_path, start_from={}, strategy_seeds={"continued": 1})
    records = run_compare(compare, registry, tmp_path / "out")
    assert [(record["strategy"], record["seed"]) for record in records] == [("mle", 0), ("mle", 1), ("continued", 0)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strategy_seeds": {"nope": 1}}, "not one of the strategies"),
        ({"strategy_seeds": {"mle": 1}}, "runs more seeds than 'mle'"),
    ],
)
def test_strategy_seeds_are_checked(tmp_path, registry, changes, message) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_compare(_text_compare(tmp_path, **changes), registry)


def test_validation_runs_are_marked(tmp_path, registry) -> None:
    compare = _text_compare(tmp_path, start_from={}, seeds=1, real_floor=True)
    records = run_compare(compare, registry, tmp_path / "out", overrides=["training.eval_split=validation"])
    assert [record["strategy"] for record in records] == ["mle", "continued", "real"]
    assert {record.get("split") for record in records} == {"validation"}
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written[0]["split"] == "validation"


@pytest.mark.parametrize("split", ["test", "validation"])
def test_real_floor_never_scores_a_split_against_itself(registry, split) -> None:
    from structgen.config import load_experiment
    from structgen.experiment import build_experiment, evaluation_split

    values = {
        "data": {"name": "digits"},
        "strategy": {"name": "vae"},
        "generator": {"name": "mlp", "latent_dim": 4, "hidden": 16, "layers": 1},
        "training": {"steps": 1, "eval_split": split},
        "device": "cpu",
    }
    experiment = build_experiment(load_experiment(values=values, registry=registry), registry)
    floor, scored_against = real_floor_objects(experiment), evaluation_split(experiment).x
    expected = experiment.data.validation.x if split == "test" else experiment.data.train.x[: len(scored_against)]
    assert torch.equal(floor, expected)
    assert not torch.equal(floor, scored_against)
