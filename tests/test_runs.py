"""`structgen run`, `structgen sample` and resuming from a run directory."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from structgen import RunDirectoryError
from structgen.cli import ProgressBar, main
from structgen.config import load_experiment
from structgen.experiment import load_trained, run_experiment
from structgen.runs import RunDirectory

CONFIG = """
data: {name: ring, train_size: 2048, eval_size: 200}
strategy: {name: gan, ema_decay: 0.9}
generator: {name: mlp, hidden: 32, layers: 2, latent_dim: 4}
discriminator: {name: mlp, hidden: 32, layers: 2}
training: {steps: 40, batch_size: 64, log_every: 10, checkpoint_every: 20, eval_samples: 300}
device: cpu
seed: 3
"""


@pytest.fixture()
def config_file(tmp_path):
    path = tmp_path / "ring.yaml"
    path.write_text(CONFIG)
    return path


def test_run_writes_run_directory(tmp_path, config_file, capsys):
    out = tmp_path / "run"
    assert main(["run", str(config_file), "--out", str(out), "--no-progress"]) == 0
    assert "modes_covered" in capsys.readouterr().out
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["strategy"]["ema_decay"] == 0.9
    assert config["training"]["steps"] == 40
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [10, 20, 30, 40]
    assert {"loss_d", "loss_g"} <= set(lines[0])
    results = json.loads((out / "results.json").read_text())
    assert set(results["metrics"]) >= {"modes_covered", "high_quality_fraction", "mmd2"}
    assert (out / "samples.png").stat().st_size > 0
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 40


def test_validation_run_is_marked(tmp_path, config_file, capsys):
    out = tmp_path / "run"
    args = ["run", str(config_file), "--out", str(out), "--no-progress", "--set", "training.eval_split=validation"]
    assert main(args) == 0
    assert "validation split, not the test split" in capsys.readouterr().out
    assert json.loads((out / "results.json").read_text())["split"] == "validation"


def test_run_refuses_existing_directory(tmp_path, config_file, capsys):
    out = tmp_path / "run"
    assert main(["run", str(config_file), "--out", str(out), "--no-progress"]) == 0
    before = (out / "results.json").read_text()
    assert main(["run", str(config_file), "--out", str(out), "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert (out / "results.json").read_text() == before


def test_resume_rejects_other_config(tmp_path, config_file, capsys):
    out = tmp_path / "run"
    assert main(["run", str(config_file), "--out", str(out), "--no-progress"]) == 0
    code = main(["run", str(config_file), "--out", str(out), "--resume", "--set", "seed=4", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "different configuration (seed differ)" in err


def test_resume_continues_from_checkpoint(tmp_path, registry):
    values = yaml.safe_load(CONFIG)
    straight = load_experiment(values=values, registry=registry)
    run_experiment(straight, registry, tmp_path / "straight")

    # Stop a second run at step 20 by training a 20-step copy, then resume with the 40-step config.
    half = load_experiment(values=values, overrides=["training.steps=20"], registry=registry)
    run_experiment(half, registry, tmp_path / "resumed")
    config_path = tmp_path / "resumed" / "config.yaml"
    config_path.write_text(yaml.safe_dump(straight.to_dict(), sort_keys=False))
    run_experiment(straight, registry, tmp_path / "resumed", resume=True)

    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert b["step"] == 40
    for key, value in a["strategy"]["model"].items():
        if torch.is_tensor(value):
            assert torch.allclose(value, b["strategy"]["model"][key], atol=1e-6), key
        else:
            assert value == b["strategy"]["model"][key], key


def test_sample_needs_only_run_directory(tmp_path, config_file, registry, capsys):
    out = tmp_path / "run"
    assert main(["run", str(config_file), "--out", str(out), "--no-progress"]) == 0
    assert main(["sample", str(out), "-n", "7", "--out", str(tmp_path / "drawn")]) == 0
    samples = np.load(tmp_path / "drawn" / "samples.npy")
    assert samples.shape == (7, 2)
    assert np.isfinite(samples).all()

    strategy, domain, num_classes = load_trained(out, registry)
    assert num_classes is None
    assert domain.spec() == json.loads((out / "run.json").read_text())["domain"]
    state = torch.load(out / "checkpoint.pt", weights_only=True)["strategy"]["model"]
    for key, value in strategy.state_dict().items():
        if torch.is_tensor(value):
            assert torch.equal(value, state[key]), key
        else:
            assert value == state[key], key


def test_sample_of_missing_run_is_clear(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "nothing"), "-n", "3"]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_checkpoint_write_is_atomic(tmp_path):
    run = RunDirectory(tmp_path)
    run.save_checkpoint({"step": 1})

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot save")

    with pytest.raises(RuntimeError):
        run.save_checkpoint({"step": 2, "bad": Unpicklable()})
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_missing_checkpoint_error(tmp_path):
    with pytest.raises(RunDirectoryError, match="no checkpoint.pt"):
        RunDirectory(tmp_path).load_checkpoint(torch.device("cpu"))


def test_conditional_run_and_sample(tmp_path, capsys):
    config = tmp_path / "conditional.yaml"
    config.write_text(
        "data: {name: digits, conditional: true}\n"
        "strategy: {name: gan}\n"
        "generator: {name: mlp, hidden: 32, layers: 1, latent_dim: 8, conditional: true}\n"
        "discriminator: {name: mlp, hidden: 32, layers: 1, conditional: true}\n"
        "training: {steps: 5, batch_size: 16, eval_samples: 300}\n"
        "device: cpu\n"
    )
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "run.json").read_text())["num_classes"] == 10
    for picture in ("samples.png", "curves.png", "interpolation.png", "classes.png"):
        assert (out / picture).stat().st_size > 0, picture
    assert main(["sample", str(out), "-n", "12", "--out", str(tmp_path / "drawn")]) == 0
    assert np.load(tmp_path / "drawn" / "samples.npy").shape == (12, 1, 8, 8)
    assert np.load(tmp_path / "drawn" / "labels.npy").tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert sorted(path.name for path in (tmp_path / "drawn").iterdir()) == [
        "classes.png",
        "interpolation.png",
        "labels.npy",
        "samples.npy",
        "samples.png",
    ]


def test_interrupt_keeps_checkpoint(tmp_path, registry, monkeypatch):
    from structgen.experiment import build_experiment, train
    from structgen.strategies.gan import GANStrategy

    values = yaml.safe_load(CONFIG)
    resolved = load_experiment(values=values, registry=registry)
    run = RunDirectory.create(tmp_path / "run", resolved.to_dict(), {"domain": None}, resume=False)
    experiment = build_experiment(resolved, registry)
    original = GANStrategy.train_step

    def interrupted(self, x, condition=None, step=0):
        if step == 7:
            raise KeyboardInterrupt
        return original(self, x, condition, step)

    monkeypatch.setattr(GANStrategy, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(experiment, run)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 7


def test_resume_extends_finished_run(tmp_path, config_file):
    out = tmp_path / "run"
    assert main(["run", str(config_file), "--out", str(out), "--no-progress", "--set", "training.steps=20"]) == 0
    assert main(["run", str(config_file), "--out", str(out), "--no-progress", "--resume"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30, 40]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 40


def test_resume_drops_log_lines_after_checkpoint(tmp_path):
    run = RunDirectory(tmp_path)
    for step in (10, 20, 30):
        run.log({"step": step, "loss": 1.0})
    run.truncate_log(20)
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20]


def test_nan_loss_stops_with_clear_error(tmp_path, config_file, capsys):
    out = tmp_path / "run"
    args = ["run", str(config_file), "--out", str(out), "--no-progress", "--set", "strategy.lr_d=1e30"]
    args += ["--set", "strategy.lr_g=1e30", "--set", "training.checkpoint_every=0"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "became nan" in err
    assert "lower the learning rates" in err
    assert not (out / "checkpoint.pt").exists()


def test_evaluate_at_records_history_without_changing_training(tmp_path, registry):
    values = yaml.safe_load(CONFIG)
    values["metrics"] = ["mmd"]
    plain = load_experiment(values=values, registry=registry)
    run_experiment(plain, registry, tmp_path / "plain")
    watched = load_experiment(values=values, overrides=["training.evaluate_at=[20, 40]"], registry=registry)
    final = run_experiment(watched, registry, tmp_path / "watched")

    results = json.loads((tmp_path / "watched" / "results.json").read_text())
    assert [entry["step"] for entry in results["history"]] == [20, 40]
    assert set(results["history"][0]["metrics"]) == {"mmd2"}
    # The evaluation at the last step scores the final model, so only its samples differ.
    assert results["history"][1]["metrics"]["mmd2"] == pytest.approx(final["mmd2"], abs=0.05)
    logged = [json.loads(line) for line in (tmp_path / "watched" / "metrics.jsonl").read_text().splitlines()]
    assert any("test/mmd2" in line for line in logged)

    a = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=True)["strategy"]["model"]
    b = torch.load(tmp_path / "watched" / "checkpoint.pt", weights_only=True)["strategy"]["model"]
    for key, value in a.items():
        if torch.is_tensor(value):
            assert torch.equal(value, b[key]), key


def test_evaluate_at_beyond_steps_is_rejected(config_file, capsys):
    assert main(["run", str(config_file), "--set", "training.evaluate_at=[10, 500]"]) == 2
    err = capsys.readouterr().err
    assert "evaluate_at" in err
    assert "[500]" in err


def test_sample_writes_texts_of_a_text_model(tmp_path, capsys):
    corpus = tmp_path / "names.txt"
    corpus.write_text("anna\nbob\ncarla\ndora\nemil\nfynn\ngreta\nhugo\n", encoding="utf-8")
    config = tmp_path / "names.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"name": "text_file", "path": str(corpus), "max_length": 6},
                "strategy": {"name": "mle", "lr": 0.05},
                "generator": {"name": "gru", "hidden": 16, "embedding_dim": 8},
                "training": {"steps": 150, "batch_size": 8, "log_every": 50, "eval_samples": 10},
                "metrics": ["uniqueness"],
                "device": "cpu",
            }
        )
    )
    assert main(["run", str(config), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert main(["sample", str(tmp_path / "run"), "-n", "40"]) == 0
    assert "samples.txt" in capsys.readouterr().out
    texts = (tmp_path / "run" / "samples" / "samples.txt").read_text(encoding="utf-8").splitlines()
    assert len(texts) == 40
    assert all(len(text) <= 6 for text in texts)
    # After 150 steps on eight names, most samples are names of the corpus.
    known = {"anna", "bob", "carla", "dora", "emil", "fynn", "greta", "hugo"}
    assert sum(text in known for text in texts) >= 20


class RecordingBar(ProgressBar):
    """A progress bar that keeps the first logged step and the bar's count just before it."""

    first: tuple[int, int | None] | None = None

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        if self.first is None:
            self.first = (step, None if self.bar is None else self.bar.n)
        super().on_log(step, logs)


def test_progress_bar_exists_before_first_log(registry, tmp_path):
    bar = RecordingBar("ring", 40)

    run_experiment(
        load_experiment(values=yaml.safe_load(CONFIG), registry=registry), registry, tmp_path / "run", (bar,)
    )

    assert bar.first == (10, 0)
    assert bar.bar.n == 40


def test_progress_bar_starts_at_resumed_step(tmp_path, registry):
    values = yaml.safe_load(CONFIG)
    half = load_experiment(values=values, overrides=["training.steps=20"], registry=registry)
    run_experiment(half, registry, tmp_path / "run")
    full = load_experiment(values=values, registry=registry)
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(full.to_dict(), sort_keys=False))
    bar = RecordingBar("ring", 40)

    run_experiment(full, registry, tmp_path / "run", observers=(bar,), resume=True)

    assert bar.first == (30, 20)
    assert bar.bar.n == 40


def test_sample_seed_changes_samples(tmp_path, config_file):
    out = tmp_path / "run"
    assert main(["run", str(config_file), "--out", str(out), "--no-progress"]) == 0
    for name, extra in (("first", []), ("again", []), ("other", ["--seed", "11"])):
        assert main(["sample", str(out), "-n", "5", "--out", str(tmp_path / name), *extra]) == 0

    first, again, other = (np.load(tmp_path / name / "samples.npy") for name in ("first", "again", "other"))

    assert np.array_equal(first, again)
    assert not np.allclose(first, other)
    assert not (tmp_path / "first" / "labels.npy").exists()
