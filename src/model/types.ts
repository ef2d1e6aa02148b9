import type * as tf from '@tensorflow/tfjs';

/** Hyper-parameters that fix a model's architecture. */
export interface ModelConfig {
  numFields: number;     // categorical fields F
  numNumeric: number;    // numeric features
  embedDim: number;      // d
  mlp: number[];         // hidden sizes of the DNN, e.g. [400, 400, 400]
  crossLayers: number;   // dcn / dcnv2
  lowRank: number;       // dcnv2
  experts: number;       // dcnv2
}

/** Per-batch inputs of the dense part, gathered by hand from the embedding tables. */
export interface DenseInputs {
  /** [B, F * d] field embeddings, row-major per sample. */
  emb: tf.Tensor2D;
  /** [B, F] first-order (1-dim) weights of the sample's IDs. */
  linear: tf.Tensor2D;
  /** [B, numNumeric] transformed numeric features. */
  numeric: tf.Tensor2D;
}

/** One named dense parameter inside the flat dense parameter vector. */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** Offset into the flat Float32Array, in elements. */
  offset: number;
  size: number;
  init: 'glorot' | 'zeros' | 'ones';
}

/**
 * A CTR model's dense part as a pure function of (dense params, inputs) -> logits.
 * It knows nothing of embeddings storage, optimizers or networking: the trainer owns
 * the flat parameter vector and feeds it in as tensors.
 */
export interface CtrModel {
  readonly name: string;
  readonly config: ModelConfig;
  readonly params: ParamSpec[];
  /** Total elements of the flat dense vector. */
  readonly numDense: number;
  /** logits [B] from params (one tensor per ParamSpec, in order) and inputs. Called inside tf.tidy. */
  logits(params: tf.Tensor[], inputs: DenseInputs): tf.Tensor1D;
}
