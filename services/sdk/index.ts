export * from './producer.ts';
export {
  SHOP_ORDER_AVRO,
  SHOP_OUTCOME_AVRO,
  shopOrderContract,
  shopOutcomeContract,
} from './shop-contracts.ts';
