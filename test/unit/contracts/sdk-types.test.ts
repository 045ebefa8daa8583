import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSchemaForTopic } from '../../../schemas/catalog.ts';
import {
  SHOP_ORDER_AVRO,
  SHOP_OUTCOME_AVRO,
  type ShopOrder,
  type ShopOrderInput,
  shopOrderContract,
} from '../../../services/sdk/shop-contracts.ts';

/** Drops `doc` everywhere: the SDK's typed copies restate shapes, not documentation. */
function shape(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema, (k, v) => (k === 'doc' ? undefined : v)));
}

test('the SDK typed schema copies equal the .avsc contracts (no drift)', () => {
  assert.deepEqual(shape(SHOP_ORDER_AVRO), shape(loadSchemaForTopic('events.shop')));
  assert.deepEqual(shape(SHOP_OUTCOME_AVRO), shape(loadSchemaForTopic('outcomes.shop')));
});

test('static types follow the contract: defaults optional on input, timestamps accept ISO strings', () => {
  const input: ShopOrderInput = {
    event_id: 'e1',
    user_id: 'u1',
    merchant_id: 'm1',
    amount: 12.5,
    currency: 'EUR',
    category: 'books',
    country: 'DE',
    ts: '2024-05-01T12:00:00Z',
  };
  const out: ShopOrder = shopOrderContract.parse(input);
  assert.equal(out.device, null);
  assert.equal(out.ts, Date.UTC(2024, 4, 1, 12));
  // @ts-expect-error amount is a number in the contract
  const wrong: ShopOrderInput = { ...input, amount: '12.5' };
  assert.equal(shopOrderContract.safeParse(wrong).success, false);
});
