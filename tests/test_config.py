"""Experiment configuration: files, overrides and clear errors before any work."""

from __future__ import annotations

import pytest

from structgen import ConfigError
from structgen.cli import main
from structgen.config import apply_overrides, load_config_file, load_experiment, parse_config

VALID = {"data": {"name": "ring"}, "strategy": {"name": "gan", "loss": "minimax"}, "training": {"steps": 10}}


def test_yaml_and_toml_give_same_config(tmp_path, registry):
    yaml_file = tmp_path / "exp.yaml"
    yaml_file.write_text("data: {name: ring}\nstrategy: {name: gan, loss: minimax}\ntraining: {steps: 10}\n")
    toml_file = tmp_path / "exp.toml"
    toml_file.write_text('[data]\nname = "ring"\n[strategy]\nname = "gan"\nloss = "minimax"\n[training]\nsteps = 10\n')
    from_yaml = load_experiment(yaml_file, registry=registry).to_dict()
    from_toml = load_experiment(toml_file, registry=registry).to_dict()
    assert from_yaml == from_toml
    assert from_yaml["strategy"]["loss"] == "minimax"
    assert from_yaml["training"]["steps"] == 10


def test_resolved_config_fills_defaults(registry):
    resolved = load_experiment(values=VALID, registry=registry).to_dict()
    assert resolved["generator"]["name"] == "mlp"
    assert resolved["generator"]["latent_dim"] == 16
    assert resolved["strategy"]["d_steps"] == 1
    assert resolved["device"] == "auto"


def test_override_sets_nested_field(registry):
    resolved = load_experiment(values=VALID, overrides=["training.steps=100", "generator.hidden=32"], registry=registry)
    assert resolved.config.training.steps == 100
    assert resolved.generator.params.hidden == 32


def test_override_expands_bare_component_name():
    values = apply_overrides({"strategy": "gan"}, ["strategy.r1_gamma=0.5"])
    assert values["strategy"] == {"name": "gan", "r1_gamma": 0.5}


def test_override_without_equals_rejected():
    with pytest.raises(ConfigError, match="section.field=value"):
        apply_overrides({}, ["training.steps"])


def test_every_invalid_field_reported():
    with pytest.raises(ConfigError) as info:
        parse_config({"strategy": {"name": "gan"}, "training": {"steps": -5, "no_such_field": 1}})
    paths = [path for path, _ in info.value.problems]
    assert "data" in paths
    assert "training.steps" in paths
    assert "training.no_such_field" in paths
    message = str(info.value)
    assert "got -5" in message
    assert "valid fields:" in message


def test_unknown_section_rejected():
    with pytest.raises(ConfigError, match="trainer: unknown field"):
        parse_config({**VALID, "trainer": {}})


def test_component_params_validated(registry):
    with pytest.raises(ConfigError) as info:
        load_experiment(
            values={**VALID, "strategy": {"name": "gan", "r1_gamma": -1, "colour": "red"}}, registry=registry
        )
    paths = [path for path, _ in info.value.problems]
    assert "strategy.r1_gamma" in paths
    assert "strategy.colour" in paths


def test_unknown_loss_lists_losses(registry):
    expected = "unknown loss 'wgan'; registered loss names: hinge, least_squares, minimax, non_saturating"
    with pytest.raises(ConfigError, match=expected):
        load_experiment(values={**VALID, "strategy": {"name": "gan", "loss": "wgan"}}, registry=registry)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CPU"])
def test_bad_device_rejected(device):
    with pytest.raises(ConfigError, match="device"):
        parse_config({**VALID, "device": device})


def test_missing_file_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config_file(tmp_path / "absent.yaml")


def test_unparsable_yaml_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("data: {name: ring\n")
    with pytest.raises(ConfigError, match="cannot be parsed"):
        load_config_file(path)


def test_unknown_suffix_error(tmp_path):
    path = tmp_path / "exp.json"
    path.write_text("{}")
    with pytest.raises(ConfigError, match="use .yaml, .yml or .toml"):
        load_config_file(path)


def test_cli_invalid_config_exit_status(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("strategy:\n  name: gan\ntraining:\n  steps: -5\n  no_such_field: 1\n")
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "training.steps" in err
    assert "training.no_such_field" in err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_cli_unavailable_cuda_rejected(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    path = tmp_path / "exp.yaml"
    path.write_text("data: ring\nstrategy: gan\ntraining: {steps: 2}\n")
    assert main(["run", str(path), "--device", "cuda", "--out", str(tmp_path / "run")]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_mixture_metric_on_other_data_rejected(tmp_path, capsys):
    import numpy as np

    points = tmp_path / "points.npy"
    np.save(points, np.random.default_rng(0).normal(size=(50, 2)))
    path = tmp_path / "exp.yaml"
    path.write_text(
        f"data: {{name: points, path: {points}}}\nstrategy: gan\nmetrics: [mixture]\ntraining: {{steps: 2}}\n"
    )
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "known mixture means" in capsys.readouterr().err


def test_all_problems_reported_in_one_pass(registry):
    values = {
        "data": {"name": "ring"},
        "strategy": {"name": "gan", "r1_gama": 1.0, "loss": "non_saturatin"},
        "generator": {"name": "mlp", "hiden": 10},
        "discriminator": {"name": "mpl"},
        "traning": {"steps": 10},
        "device": "gpu",
    }
    with pytest.raises(ConfigError) as info:
        load_experiment(values=values, registry=registry)
    paths = {path for path, _ in info.value.problems}
    assert paths == {
        "traning",
        "device",
        "strategy.r1_gama",
        "strategy.loss",
        "generator.hiden",
        "discriminator.name",
    }
    assert "got 'gpu' (got" not in str(info.value)


def test_yaml_error_names_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("data: {name: ring\n")
    with pytest.raises(ConfigError, match="broken.yaml"):
        load_config_file(path)
