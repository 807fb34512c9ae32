export { extractMessageFacts } from './extract-message-facts.js';
export { buildIndexRecord, cut, InvalidSightingError, type MessageSighting } from './build-index-record.js';
export type { LineEnding, MailAddress, MessageFacts } from './message-facts.js';
export { headerFieldValues } from './extract/header-block.js';
