/**
 * @internal A number kept as the text of its token, so the Python-compatible canonical
 * form can write it as the reference implementation would (integers exactly, floats as
 * Python's `repr`). JSON tokens are kept verbatim; YAML numbers get a synthetic token
 * whose shape (integer or not) follows the YAML core schema's int/float resolution.
 */
export class NumberToken {
  constructor(readonly token: string) {}

  /** True for integer tokens (`-?digits`), which Python parses as `int`. */
  get isInteger(): boolean {
    return /^-?\d+$/.test(this.token);
  }
}

/** @internal A value from a lossless parse: numbers are `NumberToken`s. */
export type LosslessValue = null | boolean | string | NumberToken | LosslessValue[] | { [key: string]: LosslessValue };
