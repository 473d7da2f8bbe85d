"""Native anchors for the fit bench (bench/fit.ts, optional): the seed model trained in Keras 3 on
TensorFlow or in PyTorch, on the same MNIST IDX files, batch 32, N threads. Prints one JSON line.

    python bench/native_seed.py --framework keras|torch --data <dir with the IDX files> [--threads 2]
                                [--batch 32] [--samples 60000] [--warmup 2048]

Training only (like the bench's own rows): a warm-up pass on `warmup` samples, then one timed pass over
`samples` samples. Keras: model.fit(verbose=0, shuffle=True). PyTorch: the usual loop (shuffled index
batches, zero_grad/backward/step), Adam with Keras' defaults (lr 1e-3, eps 1e-7), dropout 0.2.
"""
import argparse
import json
import os
import sys
import time


def read_idx(path):
    import numpy as np

    with open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--framework", choices=["keras", "torch"], required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--warmup", type=int, default=2048)
    a = ap.parse_args()

    import numpy as np

    x = read_idx(os.path.join(a.data, "train-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte")).astype(np.int64)
    xs, ys = x[: a.samples], y[: a.samples]
    xw, yw = x[: a.warmup], y[: a.warmup]
    out = {"framework": a.framework, "threads": a.threads, "batch": a.batch, "samples": int(xs.shape[0])}

    if a.framework == "keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(a.threads)
        tf.config.threading.set_inter_op_parallelism_threads(a.threads)
        import keras

        model = keras.Sequential(
            [
                keras.Input((28, 28)),
                keras.layers.Flatten(),
                keras.layers.Dense(512, activation="relu"),
                keras.layers.Dropout(0.2),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(xw, yw, batch_size=a.batch, epochs=1, verbose=0)
        t0 = time.perf_counter()
        h = model.fit(xs, ys, batch_size=a.batch, epochs=1, verbose=0)
        sec = time.perf_counter() - t0
        out.update(version=f"Keras {keras.__version__}, TensorFlow {tf.__version__}", accuracy=float(h.history["accuracy"][-1]))
    else:
        import torch

        torch.set_num_threads(a.threads)
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(784, 512),
            torch.nn.ReLU(),
            torch.nn.Dropout(0.2),
            torch.nn.Linear(512, 10),
        )
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        lossf = torch.nn.CrossEntropyLoss()  # softmax + sparse categorical cross-entropy, fused

        def epoch(xn, yn):
            xt, yt = torch.from_numpy(np.ascontiguousarray(xn)), torch.from_numpy(np.ascontiguousarray(yn))
            perm = torch.randperm(xt.shape[0])
            correct = 0
            for i in range(0, xt.shape[0], a.batch):
                idx = perm[i : i + a.batch]
                xb, yb = xt[idx], yt[idx]
                opt.zero_grad(set_to_none=True)
                logits = model(xb)
                loss = lossf(logits, yb)
                loss.backward()
                opt.step()
                correct += int((logits.argmax(1) == yb).sum())
            return correct / xt.shape[0]

        model.train()
        epoch(xw, yw)
        t0 = time.perf_counter()
        acc = epoch(xs, ys)
        sec = time.perf_counter() - t0
        out.update(version=f"PyTorch {torch.__version__}", accuracy=acc)

    out.update(seconds=sec, samplesPerSecond=xs.shape[0] / sec)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
