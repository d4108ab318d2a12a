import { NumberToken, type LosslessValue } from './number-token.ts';

/**
 * @internal The canonical text the Python reference implementation hashes and signs:
 * `json.dumps(obj, sort_keys=True, separators=(',', ':'), ensure_ascii=False)`. It differs
 * from JCS only in numbers (integers exact at any size, floats as `repr(float)`) and in
 * key order (code points, not UTF-16 units); strings are escaped alike.
 */
export function pythonJson(value: LosslessValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    default:
      break;
  }
  if (value instanceof NumberToken) return pythonNumber(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(',')}]`;
  const keys = Object.keys(value).sort(compareCodePoints);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out += `${i ? ',' : ''}${JSON.stringify(key)}:${pythonJson(value[key]!)}`;
  }
  return `${out}}`;
}

/** Python's `int` (exact, `-0` is `0`) or `float` rendering of a JSON number token. */
export function pythonNumber(number: NumberToken): string {
  if (number.isInteger) return number.token === '-0' ? '0' : number.token;
  return pythonFloatRepr(Number(number.token));
}

/**
 * Python's `repr(float)`: the shortest round-trip digits (the same digits JavaScript
 * picks), positional with a trailing `.0` when the decimal exponent is in [-4, 16),
 * otherwise `d.ddde±XX` with at least two exponent digits.
 */
export function pythonFloatRepr(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : value < 0 ? '-inf' : 'nan';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  const [mantissa = '', exponent = '0'] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exp = Number(exponent);
  const point = exp + 1; // digits[0..point) are the integer part
  if (point > 16 || point <= -4) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    return `${sign}${digits[0]}${frac}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Orders strings by Unicode code point, as Python sorts `str` (JCS sorts by UTF-16 unit). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    // A surrogate belongs to a character above U+FFFF, so it sorts after any BMP unit.
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
