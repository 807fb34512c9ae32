export * from './telemetry.js';
export * from './logger.js';
