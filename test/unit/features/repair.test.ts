import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fieldName, HOUR, MINUTE } from '../../../services/core/windows/tiles.ts';
import { type Checkpoint, EMPTY_CHECKPOINT } from '../../../services/features/engine/partition-state.ts';
import { parsePartitionsArgs, parseTimeArg } from '../../../services/features/repair.ts';
import {
  formatDeadLetters,
  formatResetReport,
  formatStatusTable,
  isoTime,
  newestTileEnd,
  ownedTileHashKeys,
  partitionStatusRows,
  planWatermarkReset,
  type TileHash,
} from '../../../services/features/repair-plan.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';

// 2026-01-01T12:00:00Z, a whole hour; the poisoned event is in the year 5138.
const T0 = Date.UTC(2026, 0, 1, 12);
const POISON = Date.UTC(5138, 0, 1) + 123;
const LATENESS = 5 * MINUTE;
const CUTOFF = T0 + 2 * HOUR;
const VERSION = 'repair.test';

const m = (start: number) => fieldName({ res: MINUTE, start });
const h = (start: number) => fieldName({ res: HOUR, start });

function checkpoint(overrides: Partial<Checkpoint> = {}): Checkpoint {
  return {
    ...EMPTY_CHECKPOINT,
    deadLetters: {},
    origins: {},
    offline: { ...EMPTY_CHECKPOINT.offline },
    ...overrides,
  };
}

function hash(viewId: string, entity: string, fields: Record<string, string | number>): TileHash {
  return {
    key: `fw:t:${viewId}:${entity}`,
    viewId,
    entity,
    fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)])),
  };
}

/** The minute tile's start (T0 + 30m etc.) and the hour tile starting at the floor of POISON. */
const POISON_MINUTE = POISON - (POISON % MINUTE);
const POISON_HOUR = POISON - (POISON % HOUR);

function poisonedPartition() {
  return [
    // u1 in user_spend: real tiles up to T0+37m, plus the poisoned event's two tiles.
    hash('user_spend:v1', 'u1', {
      [m(T0 + 30 * MINUTE)]: 'a',
      [m(T0 + 37 * MINUTE)]: 'b',
      [h(T0)]: 'c',
      [m(POISON_MINUTE)]: 'p',
      [h(POISON_HOUR)]: 'q',
      _t: POISON,
      _f: POISON - LATENESS,
      _v: 'old.1',
    }),
    // u1 in user_activity: its poisoned tiles were pruned already, the freshness is still poisoned.
    hash('user_activity:v1', 'u1', { [m(T0 + 37 * MINUTE)]: 'b', [h(T0)]: 'c', _t: POISON, _v: 'old.2' }),
    // u2: healthy, written when the watermark was T0 + 20m.
    hash('user_spend:v1', 'u2', {
      [m(T0 + 10 * MINUTE)]: 'd',
      [h(T0)]: 'e',
      _t: T0 + 10 * MINUTE + 5_000,
      _f: T0 + 20 * MINUTE,
      _v: 'old.3',
    }),
  ];
}

describe('planWatermarkReset', () => {
  test('drops the far-future tiles and moves freshness and the watermark back to the newest real tile', () => {
    const before = checkpoint({
      next: 42,
      maxEventTime: POISON,
      accepted: 40,
      late: 2,
      deadLetters: { FW_EVENT_LATE: 2 },
      offline: { ...EMPTY_CHECKPOINT.offline, next: 40, maxEventTime: POISON },
    });
    const plan = planWatermarkReset({
      checkpoint: before,
      hashes: poisonedPartition(),
      cutoff: CUTOFF,
      latenessMs: LATENESS,
      version: VERSION,
    });
    // The newest real tile is u1's minute T0+37m: it ends at T0+38m−1.
    const newest = T0 + 38 * MINUTE - 1;
    assert.equal(plan.after.maxEventTime, newest);
    assert.equal(plan.after.offline.maxEventTime, newest);
    assert.deepEqual(plan.watermark, { before: POISON - LATENESS, after: newest - LATENESS });
    // Everything else in the checkpoint is as it was; the input is not mutated.
    assert.equal(plan.after.next, 42);
    assert.equal(plan.after.accepted, 40);
    assert.deepEqual(plan.after.deadLetters, { FW_EVENT_LATE: 2 });
    assert.equal(plan.after.offline.next, 40);
    assert.equal(before.maxEventTime, POISON);
    assert.equal(plan.tilesDeleted, 2);
    assert.deepEqual(plan.entitiesTouched, ['u1']);
    assert.equal(plan.noop, false);

    assert.deepEqual(
      plan.changes.map((c) => c.key),
      ['fw:t:user_spend:v1:u1', 'fw:t:user_activity:v1:u1'],
    );
    const [spend, activity] = plan.changes;
    assert.deepEqual(spend!.deleteFields, [m(POISON_MINUTE), h(POISON_HOUR)]);
    assert.deepEqual(spend!.setFields, {
      _t: String(newest),
      _f: String(newest - LATENESS),
      _v: VERSION,
    });
    assert.deepEqual(spend!.lastEventTime, { before: POISON, after: newest });
    assert.deepEqual(activity!.deleteFields, []);
    assert.deepEqual(activity!.setFields, { _t: String(newest), _v: VERSION });
    assert.equal(activity!.tilesDeleted, 0);
  });

  test('an offline position behind the new max keeps its own max event time', () => {
    const plan = planWatermarkReset({
      checkpoint: checkpoint({
        maxEventTime: POISON,
        offline: { ...EMPTY_CHECKPOINT.offline, next: 3, maxEventTime: T0 + 5 * MINUTE },
      }),
      hashes: poisonedPartition(),
      cutoff: CUTOFF,
      latenessMs: LATENESS,
      version: VERSION,
    });
    assert.equal(plan.after.offline.maxEventTime, T0 + 5 * MINUTE);
  });

  test('a tile that straddles the cutoff stays, and the freshness it gives stays below the cutoff', () => {
    const cutoff = T0 + 30_000; // half-way into the minute tile starting at T0
    const plan = planWatermarkReset({
      checkpoint: checkpoint({ maxEventTime: POISON }),
      hashes: [hash('v:v1', 'u1', { [m(T0)]: 'a', [h(T0)]: 'b', [m(T0 + MINUTE)]: 'late', _t: POISON })],
      cutoff,
      latenessMs: LATENESS,
      version: VERSION,
    });
    assert.deepEqual(plan.changes[0]!.deleteFields, [m(T0 + MINUTE)]);
    // The minute tile would end at T0+60s−1; capped to one ms before the cutoff.
    assert.equal(plan.after.maxEventTime, T0 + 29_999);
  });

  test('an entity with no tile left loses its freshness; an empty partition has no watermark', () => {
    const plan = planWatermarkReset({
      checkpoint: checkpoint({
        maxEventTime: POISON,
        offline: { ...EMPTY_CHECKPOINT.offline, next: 0, maxEventTime: POISON },
      }),
      hashes: [hash('v:v1', 'u1', { [m(POISON_MINUTE)]: 'p', _t: POISON, _f: POISON - LATENESS })],
      cutoff: CUTOFF,
      latenessMs: LATENESS,
      version: VERSION,
    });
    assert.deepEqual(plan.changes[0]!.deleteFields, [m(POISON_MINUTE), '_t', '_f']);
    assert.deepEqual(plan.changes[0]!.setFields, { _v: VERSION });
    assert.equal(plan.after.maxEventTime, Number.NEGATIVE_INFINITY);
    assert.equal(plan.after.offline.maxEventTime, Number.NEGATIVE_INFINITY);
    assert.equal(plan.watermark.after, null);
  });

  test('a healthy partition is left alone', () => {
    const healthy = [poisonedPartition()[2]!];
    const plan = planWatermarkReset({
      // The partition's newest event (T0+40m) was another entity's; its watermark is past u2's `_f`.
      checkpoint: checkpoint({ maxEventTime: T0 + 40 * MINUTE }),
      hashes: healthy,
      cutoff: CUTOFF,
      latenessMs: LATENESS,
      version: VERSION,
    });
    assert.equal(plan.noop, true);
    assert.deepEqual(plan.changes, []);
    assert.equal(plan.after.maxEventTime, T0 + 40 * MINUTE);
  });

  test('a plausible checkpoint keeps its max even when a stray far-future tile is removed', () => {
    const plan = planWatermarkReset({
      // T0+50m: newer than any tile left (u1's hash for it expired, say): kept, not lowered.
      checkpoint: checkpoint({ maxEventTime: T0 + 50 * MINUTE }),
      hashes: [hash('v:v1', 'u3', { [m(T0)]: 'a', [m(POISON_MINUTE)]: 'p', _t: T0 + 1_000 })],
      cutoff: CUTOFF,
      latenessMs: LATENESS,
      version: VERSION,
    });
    assert.equal(plan.after.maxEventTime, T0 + 50 * MINUTE);
    assert.deepEqual(plan.changes[0]!.deleteFields, [m(POISON_MINUTE)]);
    // `_t` was plausible: kept.
    assert.deepEqual(plan.changes[0]!.setFields, { _v: VERSION });
    assert.equal(plan.noop, false);
  });

  test('fields that are not tiles are never touched', () => {
    const plan = planWatermarkReset({
      checkpoint: checkpoint({ maxEventTime: POISON }),
      hashes: [hash('v:v1', 'u1', { junk: 'x', _other: 'y', [m(T0)]: 'a', _t: T0 + 1 })],
      cutoff: CUTOFF,
      latenessMs: LATENESS,
      version: VERSION,
    });
    assert.deepEqual(plan.changes, []);
    assert.equal(plan.after.maxEventTime, T0 + 1);
  });
});

describe('newestTileEnd', () => {
  test('the tile starting last, the finest on a tie, ends the plausible time', () => {
    assert.equal(
      newestTileEnd(
        [
          { res: HOUR, start: T0 + HOUR },
          { res: MINUTE, start: T0 + HOUR },
          { res: MINUTE, start: T0 },
        ],
        CUTOFF,
      ),
      T0 + HOUR + MINUTE - 1,
    );
    assert.equal(newestTileEnd([{ res: HOUR, start: T0 + HOUR }], T0 + HOUR + 10), T0 + HOUR + 9);
    assert.equal(newestTileEnd([], CUTOFF), null);
  });
});

describe('ownedTileHashKeys', () => {
  test('matches whole view ids, keeps colons in entities, and asks who owns each entity', () => {
    const owned = ownedTileHashKeys(
      [
        'fw:t:user_spend:v1:u1',
        'fw:t:user_spend:v1:shop:7',
        'fw:t:user_spend:v10:u1',
        'fw:t:user_spend:v1:u9',
        'fw:cp:flywheel-features:events.shop',
        'other:t:user_spend:v1:u1',
      ],
      { prefix: 'fw:', viewIds: ['user_spend:v1'], owns: (entity) => entity !== 'u9' },
    );
    assert.deepEqual(owned, [
      { key: 'fw:t:user_spend:v1:u1', viewId: 'user_spend:v1', entity: 'u1' },
      { key: 'fw:t:user_spend:v1:shop:7', viewId: 'user_spend:v1', entity: 'shop:7' },
    ]);
  });
});

describe('partition status', () => {
  const rows = () =>
    partitionStatusRows({
      topic: 'events.shop',
      latenessMs: LATENESS,
      checkpoints: {
        '0': checkpoint({
          next: 10,
          maxEventTime: T0,
          accepted: 7,
          late: 2,
          invalid: 1,
          rerouted: 3,
          duplicates: 1,
          deadLetters: { FW_EVENT_LATE: 2, FW_DECODE_FAILED: 1 },
        }),
        '5': checkpoint({ next: 4, maxEventTime: T0 + 1 }),
      },
      committed: new Map([[0, 9]]),
      ends: new Map([
        [0, 12],
        [1, 3],
      ]),
    });

  test('one row per partition Kafka or a checkpoint knows, with the watermark and lag', () => {
    const [p0, p1, p5] = rows();
    assert.deepEqual(p0, {
      topic: 'events.shop',
      partition: 0,
      watermark: T0 - LATENESS,
      watermarkIso: '2026-01-01T11:55:00.000Z',
      maxEventTime: T0,
      maxEventTimeIso: '2026-01-01T12:00:00.000Z',
      next: 10,
      committed: 9,
      end: 12,
      lag: 3,
      accepted: 7,
      late: 2,
      invalid: 1,
      rerouted: 3,
      duplicates: 1,
      deadLetters: { FW_EVENT_LATE: 2, FW_DECODE_FAILED: 1 },
    });
    assert.equal(p1!.partition, 1);
    assert.equal(p1!.next, null);
    assert.equal(p1!.watermark, null);
    assert.equal(p1!.watermarkIso, null);
    assert.equal(p1!.lag, null);
    assert.equal(p5!.end, null);
    assert.equal(p5!.next, 4);
  });

  test('the table shows every column, a dash for what is unknown', () => {
    const lines = formatStatusTable(rows()).trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.match(
      lines[0]!,
      /^topic +part +watermark +watermark ms +max event time +next +committed +end +lag/,
    );
    assert.match(lines[0]!, /accepted +late +invalid +rerouted +dups +dead letters$/);
    assert.match(lines[1]!, /2026-01-01T11:55:00\.000Z +1767268500000 +2026-01-01T12:00:00\.000Z/);
    assert.match(lines[1]!, / 10 +9 +12 +3 +7 +2 +1 +3 +1 +FW_EVENT_LATE=2 FW_DECODE_FAILED=1$/);
    assert.match(lines[2]!, /^events\.shop +1 +- +- +- +- +- +3 +- +0/);
    assert.equal(formatStatusTable([]), 'no partitions\n');
  });

  test('dead letters: most frequent first, ties by code', () => {
    assert.equal(formatDeadLetters({ B: 1, A: 1, C: 5, D: 0 }), 'C=5 A=1 B=1');
    assert.equal(formatDeadLetters({}), '-');
  });

  test('times beyond what a Date holds print as numbers, not a RangeError', () => {
    assert.equal(isoTime(Date.UTC(5138, 0, 1)), '5138-01-01T00:00:00.000Z');
    assert.equal(isoTime(1e17), '100000000000000000 (out of Date range)');
    assert.equal(isoTime(null), '-');
    assert.equal(isoTime(Number.NEGATIVE_INFINITY), '-');
  });
});

describe('reset report', () => {
  test('says what changed', () => {
    const plan = planWatermarkReset({
      checkpoint: checkpoint({
        maxEventTime: POISON,
        offline: { ...EMPTY_CHECKPOINT.offline, next: 0, maxEventTime: POISON },
      }),
      hashes: poisonedPartition(),
      cutoff: CUTOFF,
      latenessMs: LATENESS,
      version: VERSION,
    });
    const text = formatResetReport({
      topic: 'events.shop',
      partition: 2,
      group: 'flywheel-features',
      dryRun: false,
      plan,
      epoch: { before: '7', after: '8' },
    });
    assert.match(text, /^events\.shop\/2 \(group flywheel-features\): watermark reset$/m);
    assert.match(text, /max event time +5138-01-01T00:00:00\.123Z → 2026-01-01T12:37:59\.999Z$/m);
    assert.match(text, /watermark +5137-12-31T23:55:00\.123Z → 2026-01-01T12:32:59\.999Z$/m);
    assert.match(text, /tiles deleted +2 in 1 hashes$/m);
    assert.match(text, /entities +1 touched: u1$/m);
    assert.match(text, /epoch +7 → 8: /m);
    const dry = formatResetReport({
      topic: 'events.shop',
      partition: 2,
      group: 'g',
      dryRun: true,
      plan,
      epoch: { before: '7', after: '7' },
    });
    assert.match(dry, /dry run, nothing written/);
    assert.match(dry, /epoch +7 \(unchanged\)/);
  });
});

describe('partitions arguments', () => {
  const refused = (argv: string[], message: RegExp) =>
    assert.throws(
      () => parsePartitionsArgs(argv),
      (err: unknown) =>
        err instanceof FlywheelError && err.code === 'FW_BAD_REQUEST' && message.test(err.message),
    );

  test('status: group, topics, json', () => {
    assert.deepEqual(parsePartitionsArgs([]), {
      command: 'status',
      group: 'flywheel-features',
      topics: [],
      dryRun: false,
      json: false,
    });
    assert.deepEqual(parsePartitionsArgs(['--group=g', '--topic', 'a', '--topic', 'b', '--json']), {
      command: 'status',
      group: 'g',
      topics: ['a', 'b'],
      dryRun: false,
      json: true,
    });
  });

  test('reset-watermark: topic, partition, cutoff as ISO or epoch ms, dry run', () => {
    assert.deepEqual(
      parsePartitionsArgs([
        'reset-watermark',
        '--topic',
        't',
        '--partition',
        '3',
        '--before',
        '2026-01-01T12:00:00Z',
        '--dry-run',
      ]),
      {
        command: 'reset-watermark',
        group: 'flywheel-features',
        topics: ['t'],
        partition: 3,
        cutoff: T0,
        dryRun: true,
        json: false,
      },
    );
    assert.equal(parseTimeArg('1767268800000', '--before'), T0);
  });

  test('hostile arguments are refused with what is wrong', () => {
    refused(['reset-watermark', '--partition', '1'], /needs --topic/);
    refused(['reset-watermark', '--topic', 't'], /needs --partition/);
    refused(
      ['reset-watermark', '--topic', 't', '--partition', 'one'],
      /--partition must be a non-negative integer, got "one"/,
    );
    refused(['reset-watermark', '--topic', 't', '--partition', '-1'], /non-negative integer/);
    refused(['reset-watermark', '--topic', 't', '--partition', '1.5'], /non-negative integer/);
    refused(['reset-watermark', '--topic', 't', '--partition', '1', '--before', 'soon'], /--before must be/);
    refused(
      ['reset-watermark', '--topic', 'a', '--topic', 'b', '--partition', '1'],
      /--topic is given 2 times/,
    );
    refused(['reset-watermark', '--topic'], /--topic needs a value/);
    refused(['reset-watermark', '--topic', '--partition', '1'], /--topic needs a value/);
    refused(['--partition', '1'], /belongs to "partitions reset-watermark"/);
    refused(['reset'], /unknown argument "reset"/);
  });
});
