import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalescing } from './notifications.js';

describe('coalescing trigger (what a NOTIFY runs)', () => {
  it('never runs twice at once; triggers during a run make exactly one more run after it', async () => {
    let running = 0;
    let runs = 0;
    let release!: () => void;
    const fn = async () => {
      running++;
      assert.equal(running, 1, 'one run at a time');
      runs++;
      await new Promise<void>((resolve) => { release = resolve; });
      running--;
    };
    const trigger = coalescing(fn, (err) => assert.fail(String(err)));
    trigger();
    trigger();
    trigger();
    assert.equal(runs, 1);
    release();
    // The follow-up run starts once the first settles.
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(runs, 2, 'the triggers during the run made one more');
    release();
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(runs, 2, 'and no more');
    assert.equal(running, 0);
  });

  it('an error goes to onError and does not stop later triggers', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const trigger = coalescing(async () => {
      calls++;
      if (calls === 1) throw new Error('feed unavailable');
    }, (err) => errors.push(err));
    trigger();
    await new Promise<void>((resolve) => setImmediate(resolve));
    trigger();
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(calls, 2);
    assert.equal(errors.length, 1);
  });
});
