#!/usr/bin/env python3
"""Loads a .keras file wasm-layers wrote with real Keras and checks that Keras predicts what wasm-layers did.

    scripts/keras-venv.sh python scripts/check-keras-roundtrip.py model.keras x.f32 pred.f32 [--iterations N] [--tol 1e-5]

x.f32: the inputs (float32, little-endian, reshaped to the model's input shape); pred.f32: wasm-layers'
predictions on them. Fails (exit 1) when Keras cannot load the file, warns while loading it (e.g. optimizer
variables it had to skip), its predictions differ by more than --tol, or its optimizer's iteration count is
not N. test/keras.test.ts runs it when KERAS_PYTHON is set.
"""
import argparse
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import keras  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("x")
    ap.add_argument("pred")
    ap.add_argument("--iterations", type=int)
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(a.model)
    problems = [str(w.message) for w in caught if "Skipping" in str(w.message) or "mismatch" in str(w.message).lower()]
    if problems:
        sys.exit(f"keras-roundtrip: Keras warned while loading {a.model}: {problems}")

    shape = tuple(model.input_shape[1:])
    x = np.fromfile(a.x, dtype="<f4").reshape((-1,) + shape)
    want = np.fromfile(a.pred, dtype="<f4").reshape(x.shape[0], -1)
    got = model.predict(x, batch_size=250, verbose=0)
    diff = float(np.max(np.abs(got - want)))
    it = int(model.optimizer.iterations.numpy()) if model.optimizer is not None else None
    print(f"keras-roundtrip: Keras {keras.__version__} loaded {os.path.basename(a.model)} ({model.count_params()} params, optimizer {type(model.optimizer).__name__} at iteration {it}); max |Δprediction| over {x.shape[0]} inputs {diff:.2e}")
    if not diff <= a.tol:
        sys.exit(f"keras-roundtrip: predictions differ by {diff:.3e} > {a.tol}")
    if a.iterations is not None and it != a.iterations:
        sys.exit(f"keras-roundtrip: optimizer iterations {it}, expected {a.iterations}")


if __name__ == "__main__":
    main()
