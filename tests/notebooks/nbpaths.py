"""Shared facts and fixtures of the notebook tests (a plain module: two conftest.py files would clash)."""

import os
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
TEST_BUILD = ROOT / "build" / ("test-notebooks" if BACKEND == "tensorflow" else f"test-notebooks-{BACKEND}")

TEST_PARAMETERS = {
    "01_generate_data": dict(num_train_samples=96, num_validation_samples=24, benchmark_samples=16),
    "02_encode_labels": dict(num_train_samples=96),
    "03_build_model": dict(num_validation_samples=24, batch_size=8, num_timing_batches=2, num_timing_rounds=1),
    "04_ctc_loss": dict(num_train_samples=96, num_validation_samples=24, num_epochs=1, batch_size=16),
    "05_data_pipeline": dict(num_train_samples=96, num_validation_samples=24, batch_size=8, num_timing_batches=2),
    "06_train_and_decode": dict(num_train_samples=96, num_extra_samples=32, num_epochs=2, batch_size=8,
                                num_validation_samples=24, num_test_samples=24, beam_width=3),
    "07_your_own_captchas": dict(practice_size=40, num_epochs=2, batch_size=8, practice_folder="practice_captchas",
                                 synthetic_model_path="artifacts/captcha_ocr.keras"),
    "08_export_and_scale": dict(model_path="artifacts/captcha_ocr.keras", num_check_samples=32, reading_batch_size=16,
                                num_single_images=3, num_rounds=1, num_train_samples=96, num_validation_samples=24,
                                num_epochs=2, batch_size=16),
}

# The solutions run after the series, in its build folder, on its data and models: their sizes are the series' own
# test sizes, so that they load the series' files instead of drawing new ones over them.
SOLUTION_TEST_PARAMETERS = {
    "01_generate_data": dict(num_train_samples=96, num_validation_samples=24, num_samples=60, max_workers=2),
    "02_encode_labels": dict(num_train_samples=96),
    "03_build_model": dict(num_validation_samples=24, batch_size=8, num_timing_batches=2, num_timing_rounds=1,
                           widths=[100, 161, 300]),
    "04_ctc_loss": dict(num_train_samples=96, num_epochs=1, runs=[[16, 3e-3]]),
    "05_data_pipeline": dict(num_train_samples=96, batch_size=8, num_timing_batches=2, num_fit_samples=32),
    "06_train_and_decode": dict(num_train_samples=96, num_validation_samples=24, num_samples=32, num_epochs=2,
                                batch_size=8, num_reading_samples=24, num_test_samples=24, target_accuracy=0.0,
                                clipnorms=[1.0], model_path="artifacts/captcha_ocr.keras"),
    "07_your_own_captchas": dict(num_epochs=2, batch_size=8, practice_size=40, num_csv_images=5,
                                 held_out_fractions=[0.5], finetune_learning_rates=[1e-4], digit_runs=["fine-tuned"],
                                 practice_folder="data/practice_captchas",
                                 synthetic_model_path="artifacts/captcha_ocr.keras"),
    "08_export_and_scale": dict(model_path="artifacts/captcha_ocr.keras", num_check_samples=32, batch_sizes=[8, 16],
                                num_single_images=3, num_rounds=1, num_train_samples=96, num_samples=64,
                                batch_size=16, opsets=[13]),
}
# Each solution runs on one backend (all of them on both would not fit CI's time budget): the short one of 02 on
# TensorFlow, the rest in the JAX half of the test command, so that the halves take about as long; which is fixed,
# so a failure names its notebook and backend.
SOLUTIONS_ON = {"tensorflow": ["02_encode_labels"],
                "jax": ["01_generate_data", "03_build_model", "04_ctc_loss", "05_data_pipeline", "06_train_and_decode",
                        "07_your_own_captchas", "08_export_and_scale"]}

FOLDERS = {"data_dir": "data", "artifacts_dir": "artifacts", "backup_dir": "training_backup"}


def read_notebook(path):
    return nbformat.read(path, as_version=4)


def execute_at_test_parameters(notebook, build):
    """Run `notebook` in `build` at its test parameters, with its data, models and backups under `build`.

    The folders are given relative to `build`, so that the paths the notebooks print are the same in every build
    folder, and when nbval runs the executed copy again in its own folder.
    """
    execute_in_build(notebook, build / notebook.name, TEST_PARAMETERS[notebook.stem], build)


def execute_solution(solution, build):
    """Run a solutions notebook at its test parameters in `build`, on the data and models the series left there."""
    execute_in_build(solution, build / "solutions" / solution.name, SOLUTION_TEST_PARAMETERS[solution.stem], build)


def execute_in_build(notebook, executed, parameters, build):
    """Run `notebook` into `executed` with `parameters` and, for each folder it declares, the one of FOLDERS."""
    executed.parent.mkdir(parents=True, exist_ok=True)
    declared = papermill.inspect_notebook(notebook)
    folders = {name: folder for name, folder in FOLDERS.items() if name in declared}
    papermill.execute_notebook(notebook, executed, parameters={**parameters, **folders}, cwd=build,
                               progress_bar=False)


def execute_series(build):
    """Run the whole series in order into a fresh `build`; return {notebook stem: the error it raised, or None}."""
    shutil.rmtree(build, ignore_errors=True)
    errors = {}
    for notebook in NOTEBOOKS:
        try:
            execute_at_test_parameters(notebook, build)
            errors[notebook.stem] = None
        except Exception as error:  # noqa: BLE001  (reported by the test of that notebook)
            errors[notebook.stem] = error
    return errors


@pytest.fixture(scope="session")
def first_series():
    """The series run once per test session into TEST_BUILD, whichever test asks for it first."""
    return execute_series(TEST_BUILD)


@pytest.fixture(params=NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def notebook_path(request):
    return request.param
