"""Execute every notebook with papermill at small parameters into build/test-notebooks/.

`python3 run.py test` then runs nbval over the executed copies, so that a re-run must
reproduce every output. The notebooks share one data folder, so notebook 02 loads what 01 saved.
"""

import papermill
import pytest

from nbpaths import NOTEBOOKS, TEST_BUILD

TEST_PARAMETERS = {
    "01_generate_data": dict(num_train_samples=96, num_validation_samples=24, benchmark_samples=16),
    "02_encode_labels": dict(num_train_samples=96),
    "03_build_model": dict(num_validation_samples=24, batch_size=8, num_timing_batches=2, num_timing_rounds=1),
    "04_ctc_loss": dict(num_train_samples=96, num_validation_samples=24, num_epochs=1, batch_size=16),
    "05_data_pipeline": dict(num_train_samples=96, num_validation_samples=24, batch_size=8, num_timing_batches=2,
                             shuffle_buffer=24),
    "06_train_and_decode": dict(num_train_samples=96, num_extra_samples=32, num_epochs=2, batch_size=8,
                                num_validation_samples=24, num_test_samples=24, beam_width=3),
    "07_your_own_captchas": dict(practice_size=40, num_epochs=2, batch_size=8, practice_folder="practice_captchas",
                                 synthetic_model_path="artifacts/captcha_ocr.keras"),
}

FOLDERS = {"data_dir": "data", "artifacts_dir": "artifacts", "backup_dir": "training_backup"}


def execute_at_test_parameters(notebook, build):
    """Run `notebook` in `build` at its test parameters, with its data, models and backups under `build`.

    The folders are given relative to `build`, so that the paths the notebooks print are the same in every build
    folder, and when nbval runs the executed copy again in its own folder.
    """
    build.mkdir(parents=True, exist_ok=True)
    declared = papermill.inspect_notebook(notebook)
    folders = {name: folder for name, folder in FOLDERS.items() if name in declared}
    papermill.execute_notebook(notebook, build / notebook.name, parameters={**TEST_PARAMETERS[notebook.stem],
                                                                          **folders},
                               cwd=build, progress_bar=False)


def test_every_notebook_has_test_parameters():
    assert sorted(TEST_PARAMETERS) == [path.stem for path in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_at_test_parameters(notebook):
    execute_at_test_parameters(notebook, TEST_BUILD)
