import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSchemaForTopic } from '../../../schemas/catalog.ts';
import { SOURCE_DEFINITIONS } from '../../../services/ingest/sources.ts';
import { loadShopSchema, SHOP_SOURCE_DEFINITIONS } from '../../../services/sdk/shop-contracts.ts';

// The SDK imports no service, so it carries its own copy of the built-in sources; these keep the copy
// equal to what the ingest service uses, so both register and validate the same contracts.

test("the SDK's built-in sources equal the ingest service's", () => {
  assert.deepEqual(SHOP_SOURCE_DEFINITIONS, SOURCE_DEFINITIONS);
});

test("the SDK loads each built-in topic's schema exactly as schemas/catalog.ts does", () => {
  for (const { topic } of SOURCE_DEFINITIONS)
    assert.deepEqual(loadShopSchema(topic), loadSchemaForTopic(topic));
  assert.throws(() => loadShopSchema('events.unknown'), /no built-in Avro contract/);
});
