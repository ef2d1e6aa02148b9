import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** This package's version, found by walking up from this file (works from src/ and from dist/src/). */
export function packageVersion(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ddp-ctr' && pkg.version) return (cached = pkg.version);
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('ddp-ctr package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}
