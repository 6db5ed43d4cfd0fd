"""A model file saved on one Keras backend loads and reads the same on the other (each side in its own process)."""

import os
import subprocess
import sys
import textwrap

import numpy as np

BACKENDS = ("tensorflow", "jax")

SAVE = textwrap.dedent("""
    import sys
    import keras, numpy as np
    import ocr_helpers as oh

    if __name__ == "__main__":
        keras.utils.set_random_seed(3)
        images, labels = oh.generate_dataset(32, seed=31, charset="ab12", label_length=4, num_workers=1,
                                             progress=False)
        model = oh.compile_model(oh.build_model(charset="ab12", label_length=4, filters=(4, 8, 8), dense_units=8,
                                                rnn_units=8), learning_rate=1e-4)
        model.fit(images, oh.encode_labels(labels, "ab12", 4), batch_size=16, epochs=1, verbose=0)  # moves BN stats
        oh.save_model(model, sys.argv[1])
""")

READ = textwrap.dedent("""
    import sys
    import keras, numpy as np
    import ocr_helpers as oh

    if __name__ == "__main__":
        images, _ = oh.generate_dataset(200, seed=32, num_workers=1, progress=False)
        fresh = oh.compile_model(oh.build_model(charset="ab12", label_length=4))
        for model_path, readings_path in zip(sys.argv[1::2], sys.argv[2::2]):
            model = oh.load_model(model_path)
            np.savez(readings_path, texts=np.array(oh.predict_text(model, images), dtype=str),
                     logits=oh.predict_logits(model, images), backend=keras.backend.backend(),
                     same_jit=model.jit_compile == fresh.jit_compile)
""")


def run_on(backend, script, *arguments):
    """Run a Python script in a fresh process with KERAS_BACKEND=backend; fail with its stderr if it fails."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", script, *map(str, arguments)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"{backend}: {done.stderr[-2000:]}"


def model_file(folder, saved_on):
    return folder / f"saved_on_{saved_on}.keras"


def readings_file(folder, saved_on, read_on):
    return folder / f"{saved_on}_read_on_{read_on}.npz"


def test_a_model_saved_on_either_backend_reads_the_same_on_both(tmp_path):
    # a model saved on each backend, then each backend's process reads both files: four processes, not six
    for saved_on in BACKENDS:
        run_on(saved_on, SAVE, model_file(tmp_path, saved_on))
    for backend in BACKENDS:
        other_first = sorted(BACKENDS, key=lambda saved_on: saved_on == backend)  # a fresh process loads the other's
        run_on(backend, READ, *[path for saved_on in other_first for path in
                                (model_file(tmp_path, saved_on), readings_file(tmp_path, saved_on, backend))])
    for saved_on in BACKENDS:
        readings = {}
        for backend in BACKENDS:
            with np.load(readings_file(tmp_path, saved_on, backend)) as saved:
                assert str(saved["backend"]) == backend
                assert saved["same_jit"], f"on {backend}, the loaded model compiles as a new one would (XLA or not)"
                readings[backend] = saved["texts"].tolist(), saved["logits"]
        (tf_texts, tf_logits), (jax_texts, jax_logits) = readings["tensorflow"], readings["jax"]
        assert tf_texts == jax_texts, f"saved on {saved_on}"
        assert set("".join(tf_texts)) <= set("ab12"), "the charset came from the file"
        assert sum(map(len, tf_texts)) > 0, "the model reads something, so the comparison means something"
        np.testing.assert_allclose(tf_logits, jax_logits, atol=1e-3, err_msg=f"saved on {saved_on}")
