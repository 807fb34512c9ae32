export { Audited, noteAudit } from './audit.decorators.js';
export { AuditRecorder } from './audit-recorder.js';
