import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsRegistry } from '../../../services/platform/metrics.ts';

test('renders counters, gauges and histograms in the Prometheus text format 0.0.4', () => {
  const m = new MetricsRegistry();
  const c = m.counter('fw_events_total', 'Events seen.');
  c.inc({ source: 'orders' });
  c.inc({ source: 'orders' }, 2);
  c.inc({ source: 'clicks' });
  m.gauge('fw_lag', 'Consumer lag.').set(7);
  const h = m.histogram('fw_latency_seconds', 'Latency.', [0.1, 1]);
  h.observe(0.05, { route: '/x' });
  h.observe(0.5, { route: '/x' });
  h.observe(3, { route: '/x' });

  assert.equal(
    m.render(),
    [
      '# HELP fw_events_total Events seen.',
      '# TYPE fw_events_total counter',
      'fw_events_total{source="orders"} 3',
      'fw_events_total{source="clicks"} 1',
      '# HELP fw_lag Consumer lag.',
      '# TYPE fw_lag gauge',
      'fw_lag 7',
      '# HELP fw_latency_seconds Latency.',
      '# TYPE fw_latency_seconds histogram',
      'fw_latency_seconds_bucket{route="/x",le="0.1"} 1',
      'fw_latency_seconds_bucket{route="/x",le="1"} 2',
      'fw_latency_seconds_bucket{route="/x",le="+Inf"} 3',
      'fw_latency_seconds_sum{route="/x"} 3.55',
      'fw_latency_seconds_count{route="/x"} 3',
      '',
    ].join('\n'),
  );
});

test('label order does not matter and values are escaped', () => {
  const m = new MetricsRegistry();
  const c = m.counter('fw_x_total', 'X.');
  c.inc({ b: '2', a: '1' });
  c.inc({ a: '1', b: '2' });
  c.inc({ path: 'a"b\\c\nd' });
  assert.equal(c.get({ b: '2', a: '1' }), 2);
  const lines = m.render().split('\n');
  assert.ok(lines.includes('fw_x_total{a="1",b="2"} 2'));
  assert.ok(lines.includes('fw_x_total{path="a\\"b\\\\c\\nd"} 1'));
});

test('asking twice for a metric returns the same one', () => {
  const m = new MetricsRegistry();
  assert.equal(m.counter('fw_a_total', 'A.'), m.counter('fw_a_total', 'A.'));
  m.gauge('fw_g', 'G.').set(1, { p: '0' });
  m.gauge('fw_g', 'G.').set(2, { p: '0' });
  assert.equal(m.gauge('fw_g', 'G.').get({ p: '0' }), 2);
  assert.equal(m.render().match(/# TYPE fw_g gauge/g)?.length, 1);
});

test('an unobserved histogram renders only its HELP and TYPE; an empty registry renders a newline', () => {
  const m = new MetricsRegistry();
  assert.equal(m.render(), '\n');
  m.histogram('fw_h_seconds', 'H.');
  assert.equal(m.render(), '# HELP fw_h_seconds H.\n# TYPE fw_h_seconds histogram\n');
});
