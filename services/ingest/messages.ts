/** Validated events → Kafka messages: shared with the producer SDK from services/core/contracts. */
export { type KeyedMessage, type MessageEncoder, toMessages } from '../core/contracts/messages.ts';
