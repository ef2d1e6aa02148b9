/**
 * tokens.ts: decimal numbers (parseDecimal, exactly Number()'s double or NaN) and Avazu's hour
 * (splitHour, YYMMDDHH as hour of day and day of week), against Number() and Date.
 */
import t from 'tap';
import { parseDecimal, splitHour } from '../src/data/tokens.js';
import { bytes, rng } from './helpers/data-formats.js';

const dec = (s: string): number => parseDecimal(bytes(s), 0, s.length);

t.test('parseDecimal equals Number() on random decimal strings, and refuses what is not one', async (t) => {
  const r = rng(4242);
  const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(r() * 10)).join('');
  let compared = 0;
  let short = 0;
  const wrong: string[] = [];
  for (let k = 0; k < 5000; k++) {
    const sign = ['', '', '-', '+'][Math.floor(r() * 4)];
    // Mostly short mantissas (the exact fast path), some long ones (the Number() fallback).
    const intDigits = r() < 0.8 ? Math.floor(r() * 8) : Math.floor(r() * 25);
    const fracDigits = r() < 0.5 ? 0 : r() < 0.8 ? Math.floor(r() * 8) : Math.floor(r() * 25);
    let s = sign + digits(intDigits);
    if (fracDigits > 0 || r() < 0.1) s += `.${digits(fracDigits)}`;
    if (!/[0-9]/.test(s)) s += digits(1 + Math.floor(r() * 3));
    if (r() < 0.4) s += `${r() < 0.5 ? 'e' : 'E'}${['', '-', '+'][Math.floor(r() * 3)]}${Math.floor(r() * (r() < 0.8 ? 25 : 400))}`;
    const want = Number(s);
    const got = dec(s);
    compared++;
    if ((s.replace(/^[+-]?0*/, '').replace(/[eE].*/, '').replace('.', '').replace(/^0+/, '').length) <= 15) short++;
    if (!Object.is(got, Number.isFinite(want) ? want : NaN)) wrong.push(`${s}: ${got} vs Number ${want}`);
  }
  t.same(wrong, [], `${compared} strings (${short} with <= 15 significant digits): exactly Number()'s double, -0 included`);
  // Long negative mantissas and overflow take the fallback, with the sign applied once.
  const cases: [string, number][] = [
    ['-12345678901234567', -12345678901234568],
    ['-0.1234567890123456789', -0.12345678901234568],
    ['-1e-400', -0],
    ['-0', -0],
    ['+1e2', 100],
    ['1.7976931348623157e308', Number.MAX_VALUE],
    ['-1.7976931348623157e308', -Number.MAX_VALUE],
    ['4.9e-324', 5e-324],
  ];
  for (const [s, v] of cases) t.ok(Object.is(dec(s), v), `${s} -> ${v}`);
  for (const s of ['', '+', '-', '.', '-.', 'e1', '.e1', '1e', '1e+', '1.2.3', '1e1.5', '--1', '+-1', '0x1f', ' 1', '1 ', 'Infinity', '-Infinity', 'NaN', '1e999', '-1e999', '1d']) {
    t.ok(Number.isNaN(dec(s)), `${JSON.stringify(s)} is not a number`);
  }
  // Inside a larger buffer: only [start, end) is read.
  const buf = bytes('x-2.5e1y');
  t.equal(parseDecimal(buf, 1, 7), -25);
});

t.test("splitHour: Avazu's YYMMDDHH as hour of day and day of week (Monday 0)", async (t) => {
  const out = new Float64Array(2);
  const split = (v: number): number[] | null => (splitHour(v, out) ? [out[0], out[1]] : null);
  t.same(split(14102100), [0, 1], '2014-10-21 00h: a Tuesday');
  t.same(split(14103023), [23, 3], '2014-10-30 23h: a Thursday');
  t.same(split(14102623), [23, 6], '2014-10-26: a Sunday');
  t.same(split(14102712), [12, 0], '2014-10-27: a Monday');
  t.same(split(10101), [1, 5], '2000-01-01 01h: a Saturday');
  t.same(split(16022905), [5, 0], '2016-02-29 (leap year): a Monday');
  t.same(split(99123123), [23, 3], '2099-12-31: a Thursday');
  for (const v of [14102124, 14102199, 14132100, 14002100, 14100000, 14103200, 14113100, 15022900, 0, 100, -14102100, 100000000, 14102100.5, NaN, Infinity]) {
    t.equal(split(v), null, `${v} is not a valid hour`);
  }
  // Every day of 2000-2099 at some hour, against Date.
  let wrong = 0;
  let days = 0;
  for (let d = new Date(Date.UTC(2000, 0, 1)); d.getUTCFullYear() < 2100; d = new Date(d.getTime() + 86_400_000)) {
    const hh = days % 24;
    const v = (d.getUTCFullYear() - 2000) * 1e6 + (d.getUTCMonth() + 1) * 1e4 + d.getUTCDate() * 100 + hh;
    const got = split(v);
    if (!got || got[0] !== hh || got[1] !== (d.getUTCDay() + 6) % 7) wrong++;
    const next = new Date(d.getTime() + 86_400_000);
    if (next.getUTCDate() === 1 && split(v - hh + 100) !== null) wrong++; // the day after the last of the month
    days++;
  }
  t.equal(wrong, 0, `${days} days agree with Date`);
});
