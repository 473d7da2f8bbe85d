"""Lists what real TensorBoard (its Python EventMultiplexer / EventAccumulator) reads from a log dir:
run -> plugin -> tag -> number of points, and per scalar/histogram tag a SHA-256 of the values TensorBoard
serves (float64 little-endian: for each point step, wall_time, then the tensor's values row-major; legacy
simple_value / HistogramProto values as TensorBoard's data_compat converts them). The reader tests compare
ours with the committed output (test/fixtures/tensorboard/reference-tags.json), so they need no Python; the
file holds no data, only counts and digests.

    python scripts/tensorboard-reference-tags.py ../shared/reference/tensorboard-events > test/fixtures/tensorboard/reference-tags.json

With --graphs, also converts each run's Keras model config (`keras` tag) to the graph TensorBoard's Graphs
dashboard draws (keras_util.keras_model_to_graph_def) and lists its node names under "graph_nodes"
(scripts/check-tensorboard-reads.mjs uses this on our own files).

Needs the `tensorboard` package (pip install --no-index --find-links /opt/pypi/files ... tensorboard==2.21.0).
"""

import hashlib
import json
import sys

import numpy as np
from tensorboard.util import tensor_util

from tensorboard.backend.event_processing import plugin_event_multiplexer as pem

PLUGINS = ("scalars", "histograms", "graph_keras_model", "text")


def graph_nodes(acc):
    from tensorboard.plugins.graph import keras_util

    nodes = {}
    for tag in acc.PluginTagToContent("graph_keras_model"):
        for e in acc.Tensors(tag):
            config = json.loads(tensor_util.make_ndarray(e.tensor_proto).item())
            nodes[tag] = [n.name for n in keras_util.keras_model_to_graph_def(config).node]
    return nodes


def main(logdir, graphs=False):
    # size_guidance 0: keep every point (TensorBoard's default samples scalars down to 1000).
    mux = pem.EventMultiplexer(tensor_size_guidance={p: 0 for p in PLUGINS})
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    out = {}
    for run in sorted(mux.Runs()):
        acc = mux.GetAccumulator(run)
        entry = {}
        for plugin in PLUGINS:
            tags = sorted(acc.PluginTagToContent(plugin).keys()) if plugin in acc.ActivePlugins() else []
            if tags:
                entry[plugin] = {tag: len(acc.Tensors(tag)) for tag in tags}
        digests = {}
        for plugin in ("scalars", "histograms"):
            for tag in entry.get(plugin, {}):
                h = hashlib.sha256()
                for e in acc.Tensors(tag):
                    values = tensor_util.make_ndarray(e.tensor_proto).astype("<f8").ravel()
                    h.update(np.array([e.step, e.wall_time], dtype="<f8").tobytes() + values.tobytes())
                digests[tag] = h.hexdigest()
        entry["sha256"] = digests
        if graphs and "graph_keras_model" in entry:
            entry["graph_nodes"] = graph_nodes(acc)
        out[run] = entry
    json.dump({"tensorboard": __import__("tensorboard").__version__, "runs": out}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--graphs"]
    main(args[0], graphs="--graphs" in sys.argv[1:])
