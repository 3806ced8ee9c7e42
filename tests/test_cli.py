"""The command line: --help, bad arguments, the GPU check, and a miniature demo and
ablation run end to end (tiny settings patched in, so it takes seconds)."""

import os
import subprocess
import sys

import pytest

from minisegnet import cli, demo


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        cli.main(list(argv))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_help_lists_the_subcommands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("demo", "ablate", "tour"):
        assert command in out


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    assert "demo" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["demo", "ablate"])
def test_subcommand_help(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    for option in ("--quick", "--seed", "--device", "--out", "--iterations", "--threads"):
        assert option in out
    if command == "ablate":
        assert "--seeds" in out


@pytest.mark.parametrize("argv, message", [
    (["demo", "--seed", "abc"], "non-negative integer"),
    (["demo", "--seed", "-1"], "non-negative integer"),
    (["demo", "--device", "tpu"], "invalid choice"),
    (["demo", "--iterations", "0"], "positive integer"),
    (["demo", "--bogus"], "unrecognized arguments"),
    (["ablate", "--seeds", "x"], "positive integer"),
    (["train"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err


def test_gpu_without_a_gpu_is_a_clear_error(capsys, monkeypatch, tmp_path):
    import minisegnet.backend as backend

    monkeypatch.setattr(backend, "gpu_available", lambda: False)
    code = cli.main(["demo", "--device", "gpu", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "no usable GPU" in err and "gpu_available" in err
    assert not os.listdir(tmp_path)                      # nothing was started


def test_tour_runs(capsys):
    assert cli.main(["tour", "--quick"]) == 0
    assert "conv" in capsys.readouterr().out


@pytest.fixture
def tiny_settings(monkeypatch):
    tiny = dict(size=48, n_train=8, n_val=4, iterations=3, batch_size=4, base_lr=0.01,
                val_every=0, n_figure=2)
    monkeypatch.setattr(demo, "QUICK_SETTINGS", tiny)
    monkeypatch.setattr(demo, "ABLATION_QUICK", {k: tiny[k] for k in
                                                 ("size", "n_train", "n_val", "iterations",
                                                  "batch_size", "base_lr")})
    return tiny


def test_demo_end_to_end_writes_what_it_says(capsys, tmp_path, tiny_settings):
    out_dir = tmp_path / "out"
    assert cli.main(["demo", "--quick", "--no-progress", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    for phrase in ("mean IoU", "+CRF", "boat", "car", "band mIoU", "wrote:", "checkpoint"):
        assert phrase in out
    for name in ("demo.png", "training.png", "minipspnet_context.npz"):
        assert (out_dir / name).is_file()
        assert str(out_dir / name) in out
    from minisegnet import train

    model, meta = train.load_checkpoint(out_dir / "minipspnet_context.npz")
    assert meta["dataset"] == "context" and meta["class_names"][3] == "boat"


def test_demo_same_seed_same_numbers(tmp_path, tiny_settings):
    a = demo.run_demo(quick=True, seed=5, out=str(tmp_path / "a"), progress=False, crf=False,
                      stream=open(os.devnull, "w"))
    b = demo.run_demo(quick=True, seed=5, out=str(tmp_path / "b"), progress=False, crf=False,
                      stream=open(os.devnull, "w"))
    assert a["before"]["mean_iou"] == b["before"]["mean_iou"]
    assert [h["loss"] for h in a["train"]["history"]] == [h["loss"] for h in b["train"]["history"]]


def test_ablation_end_to_end(capsys, tmp_path, tiny_settings):
    rows = demo.ABLATION_ROWS[:2]
    results = demo.run_ablation(quick=True, out=str(tmp_path), progress=False, rows=rows)
    out = capsys.readouterr().out
    assert [r["label"] for r in results] == [label for label, _ in rows]
    assert "Mean IoU (%)" in out and "Pixel Acc. (%)" in out and "FCN baseline" in out
    assert (tmp_path / "ablation.json").is_file() and (tmp_path / "ablation.png").is_file()


def test_python_dash_m_help():
    result = subprocess.run([sys.executable, "-m", "minisegnet", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "ablate" in result.stdout
