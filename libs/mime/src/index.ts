export { extractMessageFacts } from './extract-message-facts.js';
export { buildIndexRecord, InvalidSightingError, type MessageSighting } from './build-index-record.js';
export type { LineEnding, MailAddress, MessageFacts } from './message-facts.js';
export { headerFieldValues } from './extract/header-block.js';
