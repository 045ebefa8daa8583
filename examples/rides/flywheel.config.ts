import { defineProject } from 'flywheel';
import { ridesTraffic } from './traffic.ts';

const windows = ['1h', '1d'];

/**
 * A second example, shaped unlike the shop: integer entity keys (driver ids), enum fields (city,
 * vehicle), nullable fields (tip, rating), and a regression model (ride duration) whose label arrives
 * when the ride ends.
 */
export default defineProject({
  name: 'rides',
  description: 'Rides of a ride-hailing service; a model of how long a ride takes.',
  sources: [
    {
      name: 'rides',
      topic: 'events.rides',
      schema: 'schemas/ride.avsc',
      keyField: 'driver_id',
      timestampField: 'ts',
      allowedLateness: '2m',
      limits: { maxEvents: 500, maxEventBytes: 4096 },
    },
    {
      name: 'ride-durations',
      topic: 'outcomes.rides',
      schema: 'schemas/ride-duration.avsc',
      keyField: 'driver_id',
      timestampField: 'ts',
    },
  ],
  entities: [{ name: 'driver', key: 'driver_id', description: 'A driver, by integer id.' }],
  views: [
    {
      name: 'driver_trips',
      description: 'How much a driver drives.',
      source: 'rides',
      entity: 'driver',
      tile: '5m',
      ttl: '2d',
      aggregations: [
        { name: 'rides', kind: 'count', windows },
        { name: 'distance_sum', kind: 'sum', field: 'distance_km', windows },
        { name: 'distance_mean', kind: 'mean', field: 'distance_km', windows },
        { name: 'fare_max', kind: 'max', field: 'fare_eur', windows },
      ],
    },
    {
      name: 'driver_quality',
      description: 'What riders think of a driver; tips and ratings are often missing.',
      source: 'rides',
      entity: 'driver',
      tile: '5m',
      ttl: '2d',
      aggregations: [
        { name: 'rating_mean', kind: 'mean', field: 'rating', windows },
        { name: 'tip_sum', kind: 'sum', field: 'tip_eur', windows },
        { name: 'last_vehicle', kind: 'last', field: 'vehicle', windows },
        { name: 'cities', kind: 'approx_distinct', field: 'city', windows },
      ],
    },
  ],
  featureServices: { eta: ['driver_trips', 'driver_quality'] },
  models: [
    {
      name: 'ride_duration',
      description: "Minutes a ride will take, from the driver's recent trips.",
      task: 'regression',
      algorithm: 'gradient_boosted_trees',
      features: [
        'driver_trips.rides_1h',
        'driver_trips.distance_mean_1h',
        'driver_trips.distance_sum_1d',
        'driver_quality.rating_mean_1d',
      ],
      label: {
        source: 'ride-durations',
        field: 'duration_min',
        join: { by: 'request_id', field: 'ride_id' },
        maxDelay: '3h',
      },
      training: { window: '3d', holdout: '12h' },
      gate: { metric: 'mae', tolerance: 0.05 },
      monitoring: { window: '30m', cooldown: '2h' },
    },
  ],
  traffic: ridesTraffic,
});
