/**
 * The optimizers the trainer can run on dense weights and embedding tables (`--optimizer`): Adam (default, as in
 * the CowClip reference) and plain SGD. SGD exists for sync strategies whose equivalence to synchronous training
 * only holds for an update that is linear in the gradient: averaging N replicas that each took one SGD step is one
 * SGD step with the mean gradient, while Adam's moments (g^2, the division by sqrt(v)) make it a different update.
 */
import { Adagrad, RowwiseAdagrad } from './adagrad.js';
import { Adam, type AdamOptions } from './adam.js';
import type { EmbedOptimizerName, Optimizer } from './types.js';

export { EMBED_OPTIMIZER_NAMES, OPTIMIZER_NAMES, type EmbedOptimizerName, type Optimizer, type OptimizerName } from './types.js';

/** Plain SGD, w -= lr * g: stateless. */
export class Sgd implements Optimizer {
  readonly name = 'sgd';
  readonly state: readonly { name: string; data: Float32Array }[] = [];

  constructor(private readonly size: number) {}

  updateDense(w: Float32Array, g: Float32Array, lr: number): void {
    if (w.length !== this.size || g.length !== w.length) throw new RangeError(`Sgd.updateDense: ${w.length} weights, ${g.length} grads, size ${this.size}`);
    for (let i = 0; i < w.length; i++) w[i] -= lr * g[i];
  }

  updateRows(w: Float32Array, ids: Int32Array, g: Float32Array, dim: number, lr: number): void {
    const rows = w.length / dim;
    if (w.length !== this.size || g.length < ids.length * dim) throw new RangeError(`Sgd.updateRows: ${w.length} weights, ${g.length} grads for ${ids.length} rows x ${dim}`);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id >>> 0 >= rows) throw new RangeError(`Sgd.updateRows: id ${id} outside table of ${rows} rows`);
      for (let k = 0; k < dim; k++) w[id * dim + k] -= lr * g[i * dim + k];
    }
  }
}

/** An optimizer over `size` weights; `dim`, the row width of a table (row-wise Adagrad keeps a value per row). */
export function createOptimizer(name: EmbedOptimizerName, size: number, adam?: AdamOptions, dim = 1): Optimizer {
  switch (name) {
    case 'sgd':
      return new Sgd(size);
    case 'adagrad':
      return new Adagrad(size);
    case 'rowwise-adagrad':
      return new RowwiseAdagrad(size, dim);
    case 'adam':
      return new Adam(size, adam);
  }
}
