// npm's install step: builds the optional native BLAS module (native/blas.c) with node-gyp. Never fails the
// install: without a compiler, Node's headers or node-gyp, training falls back to tfjs's own kernels and says so.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (process.env.DDP_NO_NATIVE) {
  console.log('ddp-ctr: native BLAS module not built (DDP_NO_NATIVE is set)');
  process.exit(0);
}
const gyp = [process.env.npm_config_node_gyp, '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'].find((p) => p && existsSync(p));
if (!gyp) {
  console.log('ddp-ctr: native BLAS module not built (node-gyp not found); tfjs kernels will be used');
  process.exit(0);
}
// Offline machines cannot download Node's headers: use the installed ones when npm names none.
const nodedir = process.env.npm_config_nodedir ?? (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
const args = [gyp, 'rebuild', '--loglevel=error', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const res = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (res.status === 0) console.log('ddp-ctr: native BLAS module built (build/Release/ddp_blas.node)');
else console.log(`ddp-ctr: native BLAS module not built (node-gyp exit ${res.status}: ${(res.stderr || res.stdout).trim().split('\n').slice(-3).join(' / ')}); tfjs kernels will be used`);
