export * from './auth.decorators.js';
