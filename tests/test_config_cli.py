"""Bad input gets one clear line (file, key path, what was expected) and exit code 2, never a traceback."""
import json
import subprocess
import sys

import numpy as np
import pytest

from archsim.cli import main
from archsim.config import ConfigError, load_workload
from helpers import workload_dict, write_workload


def _error_of(tmp_path, data) -> str:
    path = write_workload(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_workload(path)
    msg = str(info.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    return msg


def test_shipped_workloads_load():
    for name in ("lenet5_wage", "vgg_small_wage"):
        spec = load_workload(f"workloads/{name}.yaml")
        assert spec.numerics.label() == "2-8-8-8" and spec.layers[-1].out_features == 10


def test_misspelled_key_names_the_path_and_suggests(tmp_path):
    data = workload_dict()
    data["numerics"] = {"k_ww": 2}
    msg = _error_of(tmp_path, data)
    assert "numerics.k_ww" in msg and "did you mean 'k_w'" in msg


def test_unknown_layer_key(tmp_path):
    data = workload_dict()
    data["network"]["layers"][0]["kernal"] = 3
    assert "network.layers[0].kernal" in _error_of(tmp_path, data)


@pytest.mark.parametrize("bits", [0, 33, -1])
def test_impossible_bit_widths(tmp_path, bits):
    msg = _error_of(tmp_path, workload_dict(numerics={"k_g": bits}))
    assert "numerics.k_g" in msg and "expected an integer in" in msg


def test_wrong_type(tmp_path):
    msg = _error_of(tmp_path, workload_dict(numerics={"k_a": "eight"}))
    assert "numerics.k_a" in msg and "expected an integer" in msg


def test_shapes_that_do_not_chain(tmp_path):
    layers = [{"type": "fc", "out_features": 20}, {"type": "conv", "out_channels": 4, "kernel": 3},
              {"type": "fc", "out_features": 10}]
    assert "network.layers[1]" in _error_of(tmp_path, workload_dict(layers=layers))
    layers = [{"type": "conv", "out_channels": 4, "kernel": 9, "padding": 0}, {"type": "fc", "out_features": 10}]
    assert "does not fit" in _error_of(tmp_path, workload_dict(layers=layers))
    layers = [{"type": "fc", "out_features": 7}]
    assert "10 outputs" in _error_of(tmp_path, workload_dict(layers=layers))


def test_wage_needs_quantised_inputs_to_weight_layers(tmp_path):
    layers = [{"type": "fc", "out_features": 20}, {"type": "fc", "out_features": 10}]
    msg = _error_of(tmp_path, workload_dict(layers=layers))
    assert "network.layers[1]" in msg and "qrelu" in msg


def test_eta_must_be_a_power_of_two(tmp_path):
    data = workload_dict()
    data["algorithm"]["eta_schedule"] = [{"at_fraction": 0, "eta": 3}]
    assert "algorithm.eta_schedule[0].eta" in _error_of(tmp_path, data)


def test_broken_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_workload(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_workload(tmp_path / "nope.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_workload(evil)


def test_cli_config_error_is_one_line_exit_2(tmp_path, capsys):
    path = write_workload(tmp_path, workload_dict(numerics={"k_w": 0}))
    assert main(["train", "--workload", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "numerics.k_w" in err and "Traceback" not in err


def test_cli_missing_full_data_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    import archsim.data.locations as loc
    monkeypatch.setenv("ARCHSIM_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(loc, "SYSTEM_DIRS", [tmp_path / "nothing-here"])
    assert main(["train", "--workload", "workloads/lenet5_wage.yaml", "--dataset", "full"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing-here" in err and "dataset-fashion-mnist" in err


def test_console_script_runs_as_a_process(tmp_path):
    path = write_workload(tmp_path, workload_dict(numerics={"overflow": "clamp"}))
    proc = subprocess.run([sys.executable, "-m", "archsim.cli", "train", "--workload", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "numerics.overflow" in proc.stderr and "Traceback" not in proc.stderr


def _train(tmp_path, name, *extra):
    out = tmp_path / name
    code = main(["train", "--workload", "workloads/lenet5_wage.yaml", "--epochs", "1", "--limit-train", "256",
                 "--limit-test", "200", "--out", str(out), "--quiet", *extra])
    assert code == 0
    return json.loads((out / "train.json").read_text()), np.load(out / "weights.npz")


def test_same_seed_gives_identical_weights_and_accuracy(tmp_path):
    a, wa = _train(tmp_path, "a")
    b, wb = _train(tmp_path, "b")
    assert a["test_accuracy_per_epoch"] == b["test_accuracy_per_epoch"]
    assert a["overflow_counts"] == b["overflow_counts"]
    assert all(np.array_equal(wa[k], wb[k]) for k in wa.files)
    c, wc = _train(tmp_path, "c", "--seed", "2")
    assert not all(np.array_equal(wa[k], wc[k]) for k in wa.files)
    for key in ("test_accuracy_per_epoch", "final_test_accuracy", "best_test_accuracy", "images_per_s",
                "seed", "numerics", "overflow_counts"):
        assert key in a
    assert a["numerics"] == "int" and a["seed"] == 1 and c["seed"] == 2


def test_fp32_mode_writes_its_record(tmp_path):
    rec, w = _train(tmp_path, "f", "--numerics", "fp32")
    assert rec["numerics"] == "fp32" and w["fc4"].dtype == np.float32



def _small_run(workload="lenet5_wage"):
    import dataclasses

    from archsim.data import load_dataset
    data = load_dataset()
    data = dataclasses.replace(data, train_images=data.train_images[:192], train_labels=data.train_labels[:192],
                               test_images=data.test_images[:128], test_labels=data.test_labels[:128])
    return load_workload(f"workloads/{workload}.yaml").with_overrides(epochs=3, batch_size=64), data


def test_checkpoint_of_another_run_is_refused(tmp_path):
    import archsim.checkpoint as ck
    from archsim.train import train
    spec, data = _small_run()
    train(spec.with_overrides(epochs=1), data, "int", checkpoint_dir=tmp_path)
    assert (tmp_path / ck.CHECKPOINT_NAME).exists()
    with pytest.raises(ck.CheckpointError, match="different run.*workload"):
        train(spec, data, "int", checkpoint_dir=tmp_path, resume=True)


@pytest.mark.parametrize("workload,numerics", [("lenet5_wage", "int"), ("lenet5_wage", "fp32"),
                                               ("mlp3_nitro", "int")])
def test_resume_continues_bit_identically_after_an_interruption(tmp_path, workload, numerics):
    import archsim.checkpoint as ck
    import archsim.train as tr
    spec, data = _small_run(workload)
    straight, m1 = tr.train(spec, data, numerics)
    real_save = ck.save_checkpoint

    def save_then_stop_after_two(*args, **kw):
        real_save(*args, **kw)
        if args[2] == 2:
            raise KeyboardInterrupt

    tr.save_checkpoint = save_then_stop_after_two
    try:
        with pytest.raises(KeyboardInterrupt):
            tr.train(spec, data, numerics, checkpoint_dir=tmp_path)
    finally:
        tr.save_checkpoint = real_save
    events = []
    resumed, m2 = tr.train(spec, data, numerics, checkpoint_dir=tmp_path, resume=True, progress=events.append)
    assert events[0] == {"event": "resume", "epoch": 2, "epochs": 3}
    assert resumed.test_accuracy_per_epoch == straight.test_accuracy_per_epoch
    assert resumed.overflow_counts == straight.overflow_counts
    assert all(np.array_equal(m1.weights()[k], m2.weights()[k]) for k in m1.weights())


def test_cli_refuses_to_overwrite_an_interrupted_run(tmp_path, capsys):
    import archsim.train as tr
    spec, data = _small_run()
    real_save = tr.save_checkpoint

    def save_then_stop(*args, **kw):
        real_save(*args, **kw)
        raise KeyboardInterrupt

    tr.save_checkpoint = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            tr.train(load_workload("workloads/lenet5_wage.yaml").with_overrides(epochs=2, batch_size=64), data,
                     checkpoint_dir=tmp_path)
    finally:
        tr.save_checkpoint = real_save
    args = ["train", "--workload", "workloads/lenet5_wage.yaml", "--epochs", "2", "--batch-size", "64",
            "--limit-train", "192", "--limit-test", "128", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0
    assert main(args) == 0  # a finished run may be run again
