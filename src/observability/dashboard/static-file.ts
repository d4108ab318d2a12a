import { readFile } from 'node:fs/promises';

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
};

/** Reads one of the dashboard's own files (next to this module), once, at registration. */
export async function readStaticFile(name: string): Promise<StaticFile> {
  const body = await readFile(new URL(`./${name}`, import.meta.url));
  return { body, type: TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream' };
}
