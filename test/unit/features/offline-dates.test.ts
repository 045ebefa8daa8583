import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dateTime64 } from '../../../services/features/offline-store.ts';

test('epoch ms render as DateTime64(3) seconds with three decimals, whatever their digit count', () => {
  assert.equal(dateTime64(1_775_044_800_123), '1775044800.123');
  assert.equal(dateTime64(946_684_800_000), '946684800.000'); // 2000-01-01: 12 digits as ms
  assert.equal(dateTime64(7_258_118_400_005), '7258118400.005'); // 2200-01-01
  assert.equal(dateTime64(5), '0.005');
});
