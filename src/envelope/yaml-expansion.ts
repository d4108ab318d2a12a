import { isAlias, isMap, isScalar, isSeq, type Document } from 'yaml';

/**
 * @internal The size of a composed YAML document once its aliases are expanded, measured on
 * the nodes before anything is expanded: a few aliases to a big anchor cost the reader what
 * the expansion would hold (49 references to a 100 KB anchor: 4.9 MB), however few aliases
 * they are. One walk in document order; each anchor's size is known when an alias to it
 * comes (YAML defines anchors before their aliases), so the work is linear in the nodes.
 *
 * Sizes are in source characters (a scalar's text; two brackets and one separator per
 * item for collections): close to the JSON the document becomes.
 *
 * Returns the size, or `'exceeds'` as soon as it passes `limit`, or `'recursive'` for an
 * alias inside its own anchor.
 */
export function expandedYamlSize(doc: Document.Parsed, limit: number): number | 'exceeds' | 'recursive' {
  const anchors = new Map<string, number | 'open'>();
  let total = 0;
  const walk = (node: unknown): number | 'exceeds' | 'recursive' => {
    if (isAlias(node)) {
      const size = anchors.get(node.source);
      if (size === 'open') return 'recursive';
      return charge(size ?? 0);
    }
    const anchor = isScalar(node) || isMap(node) || isSeq(node) ? node.anchor : undefined;
    if (anchor) anchors.set(anchor, 'open');
    let size: number | 'exceeds' | 'recursive';
    if (isScalar(node)) size = charge(node.range ? Math.max(1, node.range[1] - node.range[0]) : 1);
    else if (isSeq(node)) size = collection(node.items);
    else if (isMap(node)) size = collection(node.items.flatMap((pair) => [pair.key, pair.value]));
    else size = 0;
    if (anchor && typeof size === 'number') anchors.set(anchor, size);
    return size;
  };
  /** Counts `size` more characters of the expansion: aliases count what their anchor holds. */
  const charge = (size: number): number | 'exceeds' => {
    total += size;
    return total > limit ? 'exceeds' : size;
  };
  const collection = (items: readonly unknown[]): number | 'exceeds' | 'recursive' => {
    let size = charge(2 + items.length);
    if (typeof size !== 'number') return size;
    for (const item of items) {
      const inner = walk(item);
      if (typeof inner !== 'number') return inner;
      size += inner;
    }
    return size;
  };
  const result = walk(doc.contents);
  return typeof result === 'number' ? total : result;
}
