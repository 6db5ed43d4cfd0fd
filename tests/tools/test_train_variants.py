"""benchmarks/train_variants.py: the checks that run before its minutes of training, and the noise it reports."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import papermill
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import train_variants  # noqa: E402


def test_a_csv_with_other_columns_is_refused_before_training_and_left_as_it_was(tmp_path):
    old = tmp_path / "runs.csv"
    old.write_text("name,settings,val_accuracy_by_epoch,test_accuracy,minutes\nbefore,{},0.9,0.9,8.0\n")
    with pytest.raises(ValueError, match="other columns.*give --csv a new file"):
        train_variants.check_csv(old, train_variants.CSV_HEADER)
    assert old.read_text().endswith("before,{},0.9,0.9,8.0\n")


def test_a_new_csv_or_one_with_the_same_columns_is_accepted(tmp_path):
    train_variants.check_csv(tmp_path / "new.csv", train_variants.CSV_HEADER)
    same = tmp_path / "same.csv"
    same.write_text(",".join(train_variants.CSV_HEADER) + "\nrun,{},0.9,0.9,8.0,0.97\n")
    train_variants.check_csv(same, train_variants.CSV_HEADER)


def test_the_standard_error_of_a_share_shrinks_with_the_square_root_of_the_count():
    assert train_variants.standard_error(0.97, 2_000) == pytest.approx(0.00381, abs=1e-5)
    assert train_variants.standard_error(0.97, 8_000) == pytest.approx(train_variants.standard_error(0.97, 2_000) / 2)
    assert train_variants.standard_error(1.0, 2_000) == 0


def test_a_negative_check_set_is_refused_before_any_data_is_loaded_or_trained(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_variants.py"), "--name", "bad",
                           "--num-check-samples", "-1", "--data-dir", str(tmp_path / "data"),
                           "--csv", str(tmp_path / "runs.csv")],
                          capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                          timeout=120)  # without the check it would draw 50,000 images and train
    assert done.returncode != 0
    assert "--num-check-samples must be 0 (none) or more, not -1" in done.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs.csv").exists()


def test_the_defaults_are_notebook_06s_so_a_variant_changes_only_what_it_names(monkeypatch):
    declared = papermill.inspect_notebook(ROOT / "notebooks" / "06_train_and_decode.ipynb")  # the parameters cell
    notebook = {name: ast.literal_eval(parameter["default"]) for name, parameter in declared.items()}
    monkeypatch.setattr(sys, "argv", ["train_variants.py", "--name", "defaults"])
    defaults = vars(train_variants.parse_arguments())
    names = ["num_epochs", "num_extra_samples", "batch_size", "learning_rate", "warmup_epochs", "focus_share",
             "focus_chars", "seed", "ema_momentum"]
    assert {name: defaults[name] for name in names} == {name: notebook[name] for name in names}
