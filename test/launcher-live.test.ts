// ddp-launch on a terminal: rank 0's progress lines are redrawn as one live line; elsewhere every line is kept.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { supervise } from '../launcher/supervisor.js';

const CLEAR = '\r\x1b[2K';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

const LINES = ['model deepfm', 'step 1/3 loss 0.5 | 10 samples/s eta 2s', 'eval at step 1: auc 0.6', 'step 2/3 loss 0.4 | 10 samples/s eta 1s', 'step 3/3 loss 0.3 | 10 samples/s', 'done: 3 steps'];
const SCRIPT = `for (const l of ${JSON.stringify(LINES)}) process.stdout.write(l + '\\n');`;

t.test('live: progress redrawn in place, other lines scroll above it, the last one stays', async (t) => {
  const dir = t.testdir();
  const script = join(dir, 'w.mjs');
  writeFileSync(script, SCRIPT);
  for (const live of [true, false]) {
    const out = capture();
    const err = capture();
    const res = await supervise({ script, args: [], workers: [{ rank: 0, env: process.env }], stdout: out.stream, stderr: err.stream, live });
    t.equal(res.code, 0);
    if (live) {
      t.equal(
        out.text(),
        '[r0] model deepfm\n' +
          `${CLEAR}[r0] step 1/3 loss 0.5 | 10 samples/s eta 2s` +
          `${CLEAR}[r0] eval at step 1: auc 0.6\n[r0] step 1/3 loss 0.5 | 10 samples/s eta 2s` +
          `${CLEAR}[r0] step 2/3 loss 0.4 | 10 samples/s eta 1s` +
          `${CLEAR}[r0] step 3/3 loss 0.3 | 10 samples/s` +
          `${CLEAR}[r0] done: 3 steps\n[r0] step 3/3 loss 0.3 | 10 samples/s` +
          '\n',
      );
    } else {
      t.equal(out.text(), LINES.map((l) => `[r0] ${l}\n`).join(''), 'not a terminal: every line as it came');
    }
  }
});
