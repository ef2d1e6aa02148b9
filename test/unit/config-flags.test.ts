// The one command-line reader (tokenize) and the splits built on it: the launcher's flags from the workers',
// --compare's from the rest, --config from the flags it stands beside.
import t from 'tap';
import { partitionArgs, tokenize } from '../../src/config/flags.js';
import { TRAIN_FLAGS } from '../../src/config/train-config.js';
import { LAUNCH_FLAGS } from '../../launcher/args.js';

t.test('the launcher takes its flags with their values, in any spelling; the rest goes to the workers in order', (t) => {
  const argv = ['-n2', '--model', 'wd', '--servers=2', '--nnodes', '1', '--no-cowclip', 'stray', '--', '-n', '3'];
  t.same(partitionArgs(argv, LAUNCH_FLAGS), { mine: ['-n2', '--servers=2', '--nnodes', '1'], rest: ['--model', 'wd', '--no-cowclip', 'stray', '--', '-n', '3'] });
  t.throws(() => partitionArgs(['-n', '--model', 'wd'], LAUNCH_FLAGS), { message: '-n needs a value: an integer from 1 to 512, not the flag --model' }, 'a missing value is named, not taken from the next flag');
  t.end();
});

t.test('tokens: values, on/off flags, unknown flags and positionals', (t) => {
  const toks = tokenize(TRAIN_FLAGS, ['--steps=4', '--no-cowclip', '--stream', '--lr', '-1e-3', '--bogus', 'x']);
  t.same(
    toks.map((k) => (k.kind === 'flag' ? [k.spec.name, k.value, k.args] : [k.kind, 'arg' in k ? k.arg : ''])),
    [
      ['steps', '4', ['--steps=4']],
      ['cowclip', 'false', ['--no-cowclip']],
      ['stream', 'true', ['--stream']],
      ['lr', '-1e-3', ['--lr', '-1e-3']],
      ['unknown', '--bogus'],
      ['positional', 'x'],
    ],
  );
  t.throws(() => tokenize(TRAIN_FLAGS, ['--cowclip', 'false']), { message: '--cowclip false: an on/off flag takes no separate value; write --cowclip (on) or --no-cowclip (off)' });
  t.throws(() => tokenize(TRAIN_FLAGS, ['--no-steps']), { message: '--no-steps: --steps is not an on/off flag; give it an integer >= 0' });
  t.end();
});
