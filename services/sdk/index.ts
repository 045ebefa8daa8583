export * from './producer.ts';
export {
  loadShopSchema,
  SHOP_ORDER_AVRO,
  SHOP_OUTCOME_AVRO,
  SHOP_SOURCE_DEFINITIONS,
  shopOrderContract,
  shopOutcomeContract,
} from './shop-contracts.ts';
