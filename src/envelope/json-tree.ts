import { NumberToken } from './number-token.ts';
import type { JsonValue } from './types.ts';

/**
 * @internal Walkers over parsed trees. Depth is always bounded by the caller's limit
 * (checked before any parser recursed), so plain recursion is safe here.
 */

export type TreeFaultCode = 'too-deep' | 'lone-surrogate' | 'non-finite-number' | 'not-json' | 'alias-limit';

export interface TreeFault {
  readonly code: TreeFaultCode;
  /** Where, as `$.a.b[2]`. */
  readonly path: string;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** True for objects made by `{}`, `JSON.parse` or `Object.create(null)`, not class instances or arrays. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Counts the object keys in a `JSON.parse` result (compared with the scan to spot duplicates). */
export function countKeys(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const item of value) n += countKeys(item);
    return n;
  }
  const keys = Object.keys(value);
  n += keys.length;
  for (const key of keys) n += countKeys((value as Record<string, unknown>)[key]);
  return n;
}

/**
 * Checks that `value` is JSON data a receiver will accept: plain objects, arrays, strings
 * without lone surrogates, finite numbers, booleans, null; at most `maxDepth` deep.
 */
export function inspectJson(value: unknown, maxDepth: number, path = '$', depth = 0): TreeFault | undefined {
  switch (typeof value) {
    case 'string':
      return hasLoneSurrogate(value) ? { code: 'lone-surrogate', path } : undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { code: 'non-finite-number', path };
    case 'boolean':
      return undefined;
    case 'object': {
      if (value === null) return undefined;
      if (depth + 1 > maxDepth) return { code: 'too-deep', path };
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const fault = inspectJson(value[i], maxDepth, `${path}[${i}]`, depth + 1);
          if (fault) return fault;
        }
        return undefined;
      }
      if (!isPlainObject(value)) return { code: 'not-json', path };
      for (const key of Object.keys(value)) {
        if (hasLoneSurrogate(key)) return { code: 'lone-surrogate', path: `${path}.${key}` };
        const fault = inspectJson(value[key], maxDepth, `${path}.${key}`, depth + 1);
        if (fault) return fault;
      }
      return undefined;
    }
    default:
      return { code: 'not-json', path };
  }
}

/** What converting a lossless tree to plain JSON found. */
export interface PlainConversion {
  readonly value: JsonValue;
  /** A float or a long integer token, or a non-BMP key: the Python form may differ. */
  readonly mayDiffer: boolean;
}

/**
 * Converts a lossless tree (YAML `toJS` output with `NumberToken` leaves) into plain JSON,
 * checking it on the way. YAML aliases make a DAG, possibly cyclic: cycles are refused and
 * the expanded size is bounded by `maxNodes`, so anchors cannot multiply the work.
 */
export function fromLossless(root: unknown, maxDepth: number, maxNodes: number): PlainConversion | TreeFault {
  let nodes = 0;
  let mayDiffer = false;
  const ancestors = new Set<object>();
  const visit = (value: unknown, path: string, depth: number): JsonValue | BrandedFault => {
    if (++nodes > maxNodes) return fault('alias-limit', path);
    if (value === null || typeof value === 'boolean') return value;
    if (typeof value === 'string') return hasLoneSurrogate(value) ? fault('lone-surrogate', path) : value;
    if (value instanceof NumberToken) {
      const n = Number(value.token);
      if (!Number.isFinite(n)) return fault('non-finite-number', path);
      if (!value.isInteger || !Number.isSafeInteger(n)) mayDiffer = true;
      return n;
    }
    if (typeof value !== 'object') return fault(typeof value === 'number' ? 'non-finite-number' : 'not-json', path);
    if (depth + 1 > maxDepth) return fault('too-deep', path);
    if (ancestors.has(value)) return fault('alias-limit', path); // a recursive alias
    ancestors.add(value);
    const out = Array.isArray(value) ? visitArray(value, path, depth) : visitObject(value, path, depth);
    ancestors.delete(value);
    return out;
  };
  const visitArray = (items: readonly unknown[], path: string, depth: number): JsonValue | BrandedFault => {
    const out: JsonValue[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = visit(items[i], `${path}[${i}]`, depth + 1);
      if (isFault(item)) return item;
      out.push(item);
    }
    return out;
  };
  const visitObject = (object: object, path: string, depth: number): JsonValue | BrandedFault => {
    if (!isPlainObject(object)) return fault('not-json', path);
    const out: { [key: string]: JsonValue } = {};
    for (const key of Object.keys(object)) {
      if (hasLoneSurrogate(key)) return fault('lone-surrogate', `${path}.${key}`);
      if (/[\uD800-\uDBFF]/.test(key)) mayDiffer = true;
      const item = visit(object[key], `${path}.${key}`, depth + 1);
      if (isFault(item)) return item;
      setOwn(out, key, item);
    }
    return out;
  };
  const value = visit(root, '$', 0);
  return isFault(value) ? value : { value, mayDiffer };
}

/** Sets `key` as an own data property, even when it is `__proto__` (as `JSON.parse` does). */
export function setOwn<T>(target: { [key: string]: T }, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

const faultBrand = Symbol('TreeFault');
type BrandedFault = TreeFault & { readonly [faultBrand]: true };

function fault(code: TreeFaultCode, path: string): BrandedFault {
  return { code, path, [faultBrand]: true };
}

export function isFault(value: unknown): value is BrandedFault {
  return typeof value === 'object' && value !== null && faultBrand in value;
}
