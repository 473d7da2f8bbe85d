/**
 * Reads the Keras model config that Keras' TensorBoard callback writes under the `keras` tag (plugin
 * `graph_keras_model`) and lays it out like `model.summary()`: one row per layer with its output shape and
 * parameter count, shapes inferred from the input shape for the layers whose rule is known. Keras 2 and 3 configs
 * (and ours) are handled; an unknown layer shows "?" rather than a guess.
 */

export interface LayerRow {
  name: string;
  className: string;
  /** e.g. `(None, 512)`; `?` when it cannot be inferred from the config. */
  outputShape: string;
  /** Trainable + non-trainable weights; null when unknown. */
  params: number | null;
  /** A short description of the settings that matter (units, activation, rate, …). */
  details: string;
}

export interface ModelSummary {
  name: string;
  className: string;
  layers: LayerRow[];
  /** Null when some layer's count is unknown. */
  totalParams: number | null;
  /** Optimizer / loss / metrics from Keras 3's `compile_config`, when present. */
  compile?: string;
}

type Shape = (number | null)[] | null;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function shapeStr(s: Shape): string {
  if (!s) return '?';
  return `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')}${s.length === 1 ? ',' : ''})`;
}

function asShape(v: unknown): Shape {
  return Array.isArray(v) && v.every((d) => d === null || typeof d === 'number') ? (v as (number | null)[]) : null;
}

function inputShapeOf(cfg: Obj, layer: Obj): Shape {
  const bc = isObj(layer.build_config) ? asShape(layer.build_config.input_shape) : null;
  return asShape(cfg.batch_shape) ?? asShape(cfg.batch_input_shape) ?? bc;
}

function activationName(a: unknown): string {
  if (typeof a === 'string') return a;
  if (isObj(a) && typeof a.class_name === 'string') return a.class_name;
  return '';
}

/** Output shape and parameter count of one layer, given its input shape. */
function layerRule(cls: string, cfg: Obj, input: Shape): { out: Shape; params: number | null; details: string } {
  const last = input ? input[input.length - 1] : null;
  switch (cls) {
    case 'InputLayer':
      return { out: input, params: 0, details: '' };
    case 'Flatten': {
      if (!input) return { out: null, params: 0, details: '' };
      const rest = input.slice(1);
      const size = rest.every((d) => typeof d === 'number') ? rest.reduce((a, b) => (a as number) * (b as number), 1) : null;
      return { out: [input[0], size as number | null], params: 0, details: '' };
    }
    case 'Dense': {
      const units = typeof cfg.units === 'number' ? cfg.units : null;
      const bias = cfg.use_bias !== false;
      const params = units !== null && typeof last === 'number' ? last * units + (bias ? units : 0) : null;
      const out = input && units !== null ? [...input.slice(0, -1), units] : null;
      const act = activationName(cfg.activation);
      return { out, params, details: `units ${units ?? '?'}${act ? `, ${act}` : ''}` };
    }
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'SpatialDropout2D':
    case 'GaussianNoise':
    case 'GaussianDropout':
    case 'AlphaDropout':
      return { out: input, params: 0, details: typeof cfg.rate === 'number' ? `rate ${cfg.rate}` : '' };
    case 'Activation':
    case 'ReLU':
    case 'Softmax':
    case 'LeakyReLU':
      return { out: input, params: 0, details: activationName(cfg.activation) || cls };
    case 'BatchNormalization':
    case 'LayerNormalization': {
      // gamma + beta (+ moving mean and variance for batch norm, not trainable but counted by summary()).
      const per = (cls === 'BatchNormalization' ? 4 : 2) - (cfg.scale === false ? 1 : 0) - (cfg.center === false ? 1 : 0);
      return { out: input, params: typeof last === 'number' ? per * last : null, details: '' };
    }
    case 'Reshape': {
      const target = asShape(cfg.target_shape);
      return { out: target && input ? [input[0], ...target] : null, params: 0, details: '' };
    }
    default:
      return { out: null, params: null, details: '' };
  }
}

/** Lays out a Keras `Sequential` (or Functional, in layer order) model config as `summary()` would. */
export function summarizeKerasModel(config: unknown): ModelSummary {
  if (!isObj(config)) throw new TypeError('summarizeKerasModel: the model config is not a JSON object');
  const inner = isObj(config.config) ? config.config : {};
  const rawLayers = Array.isArray(inner.layers) ? inner.layers : [];
  let shape: Shape =
    asShape(inner.build_input_shape) ?? (isObj(config.build_config) ? asShape(config.build_config.input_shape) : null);
  const layers: LayerRow[] = [];
  let total: number | null = 0;
  for (const raw of rawLayers) {
    if (!isObj(raw)) continue;
    const cls = typeof raw.class_name === 'string' ? raw.class_name : '?';
    const cfg = isObj(raw.config) ? raw.config : {};
    const declared = inputShapeOf(cfg, raw);
    const input = declared ?? shape;
    const rule = layerRule(cls, cfg, input);
    shape = rule.out;
    // Keras' summary() lists no InputLayer row for a Sequential model.
    if (cls === 'InputLayer') continue;
    layers.push({
      name: typeof cfg.name === 'string' ? cfg.name : typeof raw.name === 'string' ? raw.name : '?',
      className: cls,
      outputShape: shapeStr(rule.out),
      params: rule.params,
      details: rule.details,
    });
    total = total === null || rule.params === null ? null : total + rule.params;
  }
  let compile: string | undefined;
  if (isObj(config.compile_config)) {
    const c = config.compile_config;
    const opt = isObj(c.optimizer) ? String(c.optimizer.class_name ?? '') : String(c.optimizer ?? '');
    const loss = typeof c.loss === 'string' ? c.loss : JSON.stringify(c.loss ?? null);
    const metrics = Array.isArray(c.metrics) ? c.metrics.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(', ') : '';
    compile = `optimizer ${opt}, loss ${loss}${metrics ? `, metrics ${metrics}` : ''}`;
  }
  return {
    name: typeof inner.name === 'string' ? inner.name : '',
    className: typeof config.class_name === 'string' ? config.class_name : '?',
    layers,
    totalParams: layers.length ? total : null,
    compile,
  };
}
