import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { parseFeaturesRequest, parsePredictRequest } from '../../../services/serving/requests.ts';

const limits = { maxEntities: 3, maxEntityLength: 8 };

function rejects(fn: () => unknown, code: string, reason?: RegExp): FlywheelError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FlywheelError);
    assert.equal(err.code, code);
    if (reason) assert.match(JSON.stringify(err.details), reason);
    return err;
  }
  assert.fail('expected a rejection');
}

test('features: the three accepted shapes', () => {
  assert.deepEqual(parseFeaturesRequest({ entities: ['u1'] }, limits), {
    entities: ['u1'],
    views: undefined,
    featureService: undefined,
  });
  assert.deepEqual(parseFeaturesRequest({ entities: ['u1', 'u2'], views: ['user_spend:v1'] }, limits).views, [
    'user_spend:v1',
  ]);
  assert.equal(
    parseFeaturesRequest({ entities: ['u1'], featureService: 'fraud' }, limits).featureService,
    'fraud',
  );
});

test('features: every problem is listed in details.reasons', () => {
  const err = rejects(
    () => parseFeaturesRequest({ entities: ['', 7, 'way-too-long'], views: [], extra: 1 }, limits),
    'FW_BAD_REQUEST',
  );
  const reasons = (err.details as { reasons: string[] }).reasons;
  assert.deepEqual(reasons, [
    'unknown field "extra" (allowed: entities, views, featureService)',
    'entities[0] must be a non-empty string',
    'entities[1] must be a non-empty string',
    'entities[2] is longer than 8 characters',
    '"views" must be a non-empty array of view names or ids',
  ]);
});

test('features: wrong types, empty lists and both selectors are 400s', () => {
  for (const body of [null, [], 'u1', 42, {}, { entities: 'u1' }, { entities: [] }])
    rejects(() => parseFeaturesRequest(body, limits), 'FW_BAD_REQUEST');
  rejects(
    () => parseFeaturesRequest({ entities: ['u1'], views: ['a'], featureService: 'f' }, limits),
    'FW_BAD_REQUEST',
    /not both/,
  );
  rejects(() => parseFeaturesRequest({ entities: ['u1'], featureService: 3 }, limits), 'FW_BAD_REQUEST');
});

test('more entities than the limit is a 413, before any other check', () => {
  const err = rejects(
    () => parseFeaturesRequest({ entities: ['a', 'b', 'c', 'd'] }, limits),
    'FW_BATCH_TOO_LARGE',
  );
  assert.equal(err.status, 413);
  assert.deepEqual(err.details, { count: 4, limit: 3 });
  rejects(() => parsePredictRequest({ entities: ['a', 'b', 'c', 'd'] }, limits), 'FW_BATCH_TOO_LARGE');
});

test('predict: {entity} or {entities}, not both, nothing else', () => {
  assert.deepEqual(parsePredictRequest({ entity: 'u1' }, limits), { entities: ['u1'] });
  assert.deepEqual(parsePredictRequest({ entities: ['u1', 'u2'] }, limits), { entities: ['u1', 'u2'] });
  rejects(
    () => parsePredictRequest({ entity: 'u1', entities: ['u2'] }, limits),
    'FW_BAD_REQUEST',
    /not both/,
  );
  rejects(
    () => parsePredictRequest({ entity: 5 }, limits),
    'FW_BAD_REQUEST',
    /entity\\" must be a non-empty string/,
  );
  rejects(() => parsePredictRequest({}, limits), 'FW_BAD_REQUEST', /entities\\" must be an array/);
  rejects(
    () => parsePredictRequest({ entities: ['u1'], views: ['x'] }, limits),
    'FW_BAD_REQUEST',
    /unknown field/,
  );
});
