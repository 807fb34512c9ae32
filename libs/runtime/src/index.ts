export * from './bootstrap.js';
export * from './nats-connection.module.js';
export * from './nats-credentials.js';
export * from './health/health.service.js';
export * from './health/health.controller.js';
export * from './domain-exception.js';
export * from './periodic-task.js';
