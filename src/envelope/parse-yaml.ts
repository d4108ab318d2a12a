import { Composer, isAlias, isMap, isScalar, isSeq, Parser, type Document, type CST } from 'yaml';
import { fromLossless, hasLoneSurrogate, isPlainObject } from './json-tree.ts';
import { NumberToken, type LosslessValue } from './number-token.ts';
import type { ParseLimits } from './parse-limits.ts';
import { malformedDocument, type ParsedDocument } from './parsed-document.ts';
import { ok, rejected, type Result } from './types.ts';
import { cstDepthExceeds, roughDepthExceeds } from './yaml-depth.ts';
import { expandedYamlSize } from './yaml-expansion.ts';

/**
 * Core schema (timestamps stay strings), integers as bigint so they can be told from
 * floats, keys must be strings. `uniqueKeys` is off on purpose: the library checks it with
 * a linear search per key (3 s for a 270 KB map); `prepareNodes` checks it with a Set.
 */
const COMPOSE_OPTIONS = { schema: 'core', intAsBigInt: true, stringKeys: true, uniqueKeys: false, strict: true, logLevel: 'silent' } as const;

/** @internal Parses YAML text within limits into a plain JSON document. */
export function parseYaml(text: string, limits: ParseLimits): Result<ParsedDocument> {
  const { maxDepth } = limits;
  if (roughDepthExceeds(text, Math.max(8 * maxDepth, 256))) return malformedDocument('too-deep', `nesting deeper than ${maxDepth}`);
  if (hasLoneSurrogate(text)) return malformedDocument('lone-surrogate', 'the text contains a lone surrogate');
  let docs: Document.Parsed[];
  try {
    const tokens: CST.Token[] = Array.from(new Parser().parse(text));
    if (cstDepthExceeds(tokens, maxDepth)) return malformedDocument('too-deep', `nesting deeper than ${maxDepth}`);
    docs = Array.from(new Composer(COMPOSE_OPTIONS).compose(tokens, true, text.length));
  } catch (cause) {
    return malformedDocument('invalid-yaml', cause instanceof Error ? cause.message : 'not valid YAML');
  }
  const doc = docs[0];
  if (!doc || docs.length !== 1) return malformedDocument('invalid-yaml', 'expected exactly one YAML document');
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const code = problem.code === 'DUPLICATE_KEY' ? 'duplicate-key' : problem.code === 'RESOURCE_EXHAUSTION' ? 'too-deep' : 'invalid-yaml';
    return malformedDocument(code, problem.message);
  }
  const prepared = prepareNodes(doc.contents);
  if (prepared) return malformedDocument(prepared.code, prepared.detail);
  // Before anything is expanded: what the aliases would make, against the body limit.
  const expanded = expandedYamlSize(doc, limits.maxBytes);
  if (expanded === 'recursive') return malformedDocument('alias-limit', 'an alias inside its own anchor');
  if (expanded === 'exceeds') return rejected('too-large', `the YAML document, its aliases expanded, is larger than ${limits.maxBytes} bytes`, { field: '$', code: 'yaml-expansion' });
  let tree: unknown;
  try {
    tree = doc.toJS({ maxAliasCount: limits.maxYamlAliases });
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    const aliasAbuse = /Excessive alias count|Alias resolution is disabled/.test(message);
    return malformedDocument(aliasAbuse ? 'alias-limit' : 'invalid-yaml', message);
  }
  return fromTree(tree, limits);
}

function fromTree(tree: unknown, limits: ParseLimits): Result<ParsedDocument> {
  if (!isPlainObject(tree)) return malformedDocument('not-an-object', 'the document is not a mapping');
  // Aliases can repeat a node; the expanded tree may not be larger than the text could hold.
  const converted = fromLossless(tree, limits.maxDepth, limits.maxBytes);
  if ('code' in converted) {
    const code = converted.code === 'not-json' ? 'invalid-yaml' : converted.code;
    return malformedDocument(code, `${converted.code} at ${converted.path}`);
  }
  const value = converted.value;
  if (!isPlainObject(value)) return malformedDocument('not-an-object', 'the document is not a mapping');
  const body = tree.Body as LosslessValue | undefined;
  return ok({ value, losslessBody: converted.mayDiffer ? () => body : undefined });
}

type NodeProblem = { code: string; detail: string } | undefined;

/**
 * Walks the composed nodes (depth already bounded): refuses duplicate keys and
 * non-finite numbers, and replaces numbers by `NumberToken`s so the lossless tree keeps
 * whether each was an integer or a float.
 */
function prepareNodes(node: Document['contents'] | unknown): NodeProblem {
  if (isScalar(node)) {
    const value: unknown = node.value;
    if (typeof value === 'bigint') node.value = new NumberToken(value.toString());
    else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return { code: 'non-finite-number', detail: `${String(value)} is not a finite number` };
      node.value = new NumberToken(Object.is(value, -0) ? '-0.0' : value.toExponential());
    } else if (value !== null && typeof value !== 'string' && typeof value !== 'boolean') {
      return { code: 'invalid-yaml', detail: 'a scalar that is not JSON data' };
    }
    return undefined;
  }
  if (isSeq(node)) {
    for (const item of node.items) {
      const problem = prepareNodes(item);
      if (problem) return problem;
    }
    return undefined;
  }
  if (isMap(node)) {
    const seen = new Set<unknown>();
    for (const pair of node.items) {
      const key: unknown = isScalar(pair.key) ? pair.key.value : pair.key;
      if (seen.has(key)) return { code: 'duplicate-key', detail: `duplicate key ${String(key)}` };
      seen.add(key);
      const problem = prepareNodes(pair.value);
      if (problem) return problem;
    }
    return undefined;
  }
  if (node === null || node === undefined || isAlias(node)) return undefined;
  return { code: 'invalid-yaml', detail: 'an unsupported YAML node' };
}
