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
    'entities[0] must be a non-empty string of at most 8 characters (got an empty string)',
    'entities[1] must be a non-empty string of at most 8 characters (got a number)',
    'entities[2] is 12 characters long; the limit is 8',
    '"views" must be a non-empty array of view names or ids (got an empty array)',
  ]);
});

test('each reason names the field, what is wrong with the value and the limit', () => {
  const reasonsOf = (fn: () => unknown) =>
    (rejects(fn, 'FW_BAD_REQUEST').details as { reasons: string[] }).reasons;
  const features = (body: unknown) => reasonsOf(() => parseFeaturesRequest(body, limits));
  assert.deepEqual(features(null), ['body must be a JSON object (got null)']);
  assert.deepEqual(features('u1'), ['body must be a JSON object (got a string)']);
  assert.deepEqual(features({}), ['"entities" must be an array of 1 to 3 entity keys (it is missing)']);
  assert.deepEqual(features({ entities: 'u1' }), [
    '"entities" must be an array of 1 to 3 entity keys (got a string)',
  ]);
  assert.deepEqual(features({ entities: [] }), ['"entities" must name 1 to 3 entities (got an empty array)']);
  assert.deepEqual(features({ entities: ['u1'], views: 'v' }), [
    '"views" must be a non-empty array of view names or ids (got a string)',
  ]);
  assert.deepEqual(features({ entities: ['u1'], views: ['a', 3] }), [
    '"views" must be a non-empty array of view names or ids (views[1] is a number)',
  ]);
  assert.deepEqual(features({ entities: ['u1'], featureService: '' }), [
    '"featureService" must be a non-empty string (got an empty string)',
  ]);
  const predict = (body: unknown) => reasonsOf(() => parsePredictRequest(body, limits));
  assert.deepEqual(predict({ entity: 'x'.repeat(9) }), ['"entity" is 9 characters long; the limit is 8']);
  assert.deepEqual(predict({ entity: null }), [
    '"entity" must be a non-empty string of at most 8 characters (got null)',
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
  assert.equal(err.message, '"entities" names 4 entities; the limit is 3 per request');
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
