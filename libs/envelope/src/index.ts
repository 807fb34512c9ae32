export * from './layout.js';
export {
  checkEnvelope,
  EnvelopeError,
  EnvelopeWalker,
  expectEnvelope,
  inspectEnvelope,
  type EnvelopeFacts,
} from './inspect.js';
