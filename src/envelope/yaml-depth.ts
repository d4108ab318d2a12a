import type { CST } from 'yaml';

/**
 * @internal Depth bounds for YAML. The `yaml` composer recurses per nesting level, and a
 * stack overflow there can take the process down (V8 may compile a regular expression at
 * that moment and abort), so nesting is measured on the parser's token tree, which the
 * library builds iteratively, before anything is composed.
 */

/**
 * A quick, rough count of nesting: flow collections (`[`, `{`, skipping comments and
 * most quoted scalars) and compact block indicators opening a line (`- - - x`). Only a
 * shortcut that refuses obviously hostile text without tokenising it; `cstDepthExceeds`
 * is the real bound.
 */
export function roughDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let prev = 0x0a;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (prev === 0x0a && compactIndicators(text, i) > limit) return true;
    if (c === 0x23 /* # */ && isBlank(prev)) {
      while (i < n && text.charCodeAt(i) !== 0x0a) i++;
    } else if ((c === 0x22 || c === 0x27) && startsNode(prev)) {
      i = skipQuoted(text, i, c);
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) {
      depth--;
    }
    prev = text.charCodeAt(i);
  }
  return false;
}

/** How many `-`, `?` or `:` indicators, each followed by a blank, open the line at `start`. */
function compactIndicators(text: string, start: number): number {
  let i = start;
  let count = 0;
  for (;;) {
    while (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09) i++;
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if ((c !== 0x2d && c !== 0x3f && c !== 0x3a) || (next !== 0x20 && next !== 0x09)) return count;
    count++;
    i += 2;
  }
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function startsNode(prev: number): boolean {
  return isBlank(prev) || prev === 0x5b || prev === 0x7b || prev === 0x2c || prev === 0x3a;
}

function skipQuoted(text: string, start: number, quote: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote === 0x22 && c === 0x5c) i++;
    else if (c === quote) {
      if (quote === 0x27 && text.charCodeAt(i + 1) === 0x27) i++;
      else return i;
    }
  }
  return text.length;
}

/** True when the collections in `tokens` nest deeper than `limit`. Iterative. */
export function cstDepthExceeds(tokens: readonly CST.Token[], limit: number): boolean {
  const stack: [CST.Token, number][] = tokens.map((token) => [token, 0]);
  for (let entry = stack.pop(); entry; entry = stack.pop()) {
    const [token, depth] = entry;
    switch (token.type) {
      case 'document':
        if (token.value) stack.push([token.value, depth]);
        break;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection': {
        if (depth + 1 > limit) return true;
        for (const item of token.items) {
          if (item.key) stack.push([item.key, depth + 1]);
          if (item.value) stack.push([item.value, depth + 1]);
        }
        break;
      }
      default:
        break;
    }
  }
  return false;
}
