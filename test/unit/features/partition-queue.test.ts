import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartitionQueue } from '../../../services/features/engine/partition-queue.ts';

describe('PartitionQueue', () => {
  it('hands records out oldest first, at most `max` at a time', () => {
    const q = new PartitionQueue<number>(10);
    q.push([1, 2, 3]);
    q.push([4, 5]);
    assert.deepEqual(q.take(2), [1, 2]);
    assert.equal(q.size, 3);
    assert.deepEqual(q.take(100), [3, 4, 5]);
    assert.deepEqual(q.take(100), []);
  });

  it('keeps order across many pushes and takes (its head compaction loses nothing)', () => {
    const q = new PartitionQueue<number>(1_000_000);
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 200; round++) {
      q.push(Array.from({ length: 97 }, () => next++));
      out.push(...q.take(61));
    }
    out.push(...q.take(Number.MAX_SAFE_INTEGER));
    assert.deepEqual(
      out,
      Array.from({ length: next }, (_, i) => i),
    );
  });

  it('wakes a waiting fold loop when records arrive', async () => {
    const q = new PartitionQueue<string>(10);
    let woke = false;
    const waiting = q.waitForRecords().then(() => {
      woke = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(woke, false);
    q.push(['a']);
    await waiting;
    assert.equal(woke, true);
  });

  it('holds the producer while full, ticking (heartbeating) as it waits, and lets it go when room is made', async () => {
    const q = new PartitionQueue<number>(3);
    q.push([1, 2, 3, 4]);
    let ticks = 0;
    let released = false;
    const waiting = q
      .waitForRoom(async () => {
        ticks++;
      }, 5)
      .then(() => {
        released = true;
      });
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(released, false);
    assert.ok(ticks >= 2, `ticked ${ticks} times`);
    q.take(2);
    await waiting;
    assert.equal(released, true);
  });

  it('a tick that throws (a rebalance) ends the wait with its error', async () => {
    const q = new PartitionQueue<number>(1);
    q.push([1]);
    await assert.rejects(
      q.waitForRoom(async () => {
        throw new Error('rebalance in progress');
      }, 1),
      /rebalance in progress/,
    );
  });

  it('close drops what is queued, releases every waiter and ignores later pushes', async () => {
    const q = new PartitionQueue<number>(1);
    q.push([1, 2]);
    const room = q.waitForRoom(async () => undefined, 1_000);
    const empty = new PartitionQueue<number>(1);
    const records = empty.waitForRecords();
    q.close();
    empty.close();
    await Promise.all([room, records]);
    assert.equal(q.size, 0);
    q.push([3]);
    assert.equal(q.size, 0);
    assert.equal(q.isClosed, true);
  });
});
