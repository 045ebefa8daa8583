/** The one free-port helper lives with the test support; benchmarks use the same implementation. */
export { freePort, freePorts } from '../../test/support/ports.ts';
