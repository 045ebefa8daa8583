export { withTimeout } from '../core/with-timeout.ts';
