import { paced, type TrafficGenerator } from 'flywheel';

const CITIES = ['berlin', 'hamburg', 'munich', 'cologne'] as const;
const VEHICLES = ['car', 'van', 'bike'] as const;

/**
 * Rides at the asked rate (event time = now) over integer driver ids; some riders tip or rate, most do
 * not (null). Each ride's duration arrives as its label, from distance and city traffic plus noise.
 */
export const ridesTraffic: TrafficGenerator = (ctx) => {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)]!;
  let seq = 0;
  return paced(ctx, async (n, now) => {
    const rides = Array.from({ length: n }, () => {
      const distance = Math.round((1 + Math.random() ** 2 * 30) * 10) / 10;
      return {
        ride_id: `ride-${now}-${seq++}`,
        driver_id: 1_000 + Math.floor(Math.random() * ctx.entities),
        city: pick(CITIES),
        vehicle: pick(VEHICLES),
        distance_km: distance,
        fare_eur: Math.round((3 + distance * 1.8) * 100) / 100,
        tip_eur: Math.random() < 0.3 ? Math.round(Math.random() * 500) / 100 : null,
        rating: Math.random() < 0.5 ? 1 + Math.floor(Math.random() * 5) : null,
        ts: now,
      };
    });
    await ctx.send('rides', rides);
    ctx.noteEntity(String(rides.at(-1)!.driver_id));
    const slow = { berlin: 2.4, hamburg: 2.1, munich: 2.6, cologne: 2.0 };
    await ctx.send(
      'ride-durations',
      rides.map((r) => ({
        ride_id: r.ride_id,
        driver_id: r.driver_id,
        duration_min: Math.round((4 + r.distance_km * slow[r.city] + Math.random() * 6) * 10) / 10,
        ts: r.ts,
      })),
    );
  });
};
