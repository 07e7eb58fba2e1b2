/**
 * Tensors of the static graph. A tensor's value lives in a slot (a GPU buffer range decided at
 * compile time); gradients get slots of their own when the backward schedule is derived.
 */

export type TensorKind =
  /** Uploaded by the host, constant during training (clean images, targets). */
  | "input"
  /** Learned weights in the flat parameter buffer. */
  | "param"
  /** Non-learned persistent values (BN running statistics) in the flat state buffer. */
  | "state"
  /** Produced by an op on every iteration. */
  | "activation"
  /** Produced by an op for its own backward (BN statistics, max-pool argmax); no gradient. */
  | "saved"
  /** All zeros, written once (the output of an edge that is always zero). */
  | "zeros";

export type InitSpec =
  /** U(−bound, bound). PyTorch's conv/linear default is bound = 1/√fan_in for weight and bias. */
  | { kind: "uniform"; bound: number }
  | { kind: "normal"; std: number }
  | { kind: "constant"; value: number };

/** A parameter stored in another layout than PyTorch's (conv weights: ihwo). */
export interface StoredLayout {
  /** PyTorch layout → stored layout. */
  toStored(values: Float32Array): Float32Array;
  /** Stored layout → PyTorch layout. */
  fromStored(values: Float32Array): Float32Array;
}

export interface ParamOptions {
  init: InitSpec;
  /** How the values are laid out on the GPU; PyTorch's layout when absent. */
  layout?: StoredLayout;
  /** Coupled L2 weight decay applies (SGD: conv/linear weights only; Adam: every parameter). */
  decay: boolean;
  /** Frozen parameters keep their initial value (no gradient, no update). */
  trainable?: boolean;
}

export class Tensor {
  constructor(
    readonly id: number,
    readonly name: string,
    readonly shape: readonly number[],
    readonly kind: TensorKind,
    readonly dtype: "f32" | "u32" = "f32",
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** [N, C, H, W] accessors for 4-D activations. */
  get n(): number {
    return this.shape[0];
  }
  get c(): number {
    return this.shape[1];
  }
  get h(): number {
    return this.shape[2];
  }
  get w(): number {
    return this.shape[3];
  }
}

/** A parameter tensor with what the flat buffer layout and the initialiser need. */
export class Param extends Tensor {
  constructor(id: number, name: string, shape: readonly number[], readonly options: ParamOptions) {
    super(id, name, shape, "param");
  }
  get trainable(): boolean {
    return this.options.trainable ?? true;
  }
}

/** A persistent, non-learned tensor (BN running statistics) and its initial value. */
export class State extends Tensor {
  constructor(id: number, name: string, shape: readonly number[], readonly initial: number) {
    super(id, name, shape, "state");
  }
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join("×")}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
