export { formatDuration, LIFETIME, parseDuration } from './duration.ts';
export {
  coverWindow,
  DAY,
  fieldName,
  HOUR,
  LIFETIME_LADDER,
  MINUTE,
  parseFieldName,
  RESOLUTION_LADDER,
  resolutionsFor,
  type Span,
  type TileRef,
  tileStart,
  tilesForEvent,
  validateWindow,
  windowSpan,
} from './tiles.ts';
