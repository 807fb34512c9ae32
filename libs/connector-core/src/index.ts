export { Limiter } from './limiter.js';
export type {
  BackupCommand,
  ContainerScan,
  MailboxSelection,
  MailSource,
  ScanOptions,
  SourceCursor,
  SourceItem,
  SourceItemAttributes,
  SourceMailbox,
  SourceRead,
  SourceSession,
} from './ports/mail-source.js';
export {
  refusalByForm,
  type CopyCandidate,
  type MailTarget,
  type TargetSession,
  type TargetWrite,
} from './ports/mail-target.js';
export {
  countItemResult,
  type JobError,
  type JobProgress,
  type SightingUploader,
  type UploadOutcome,
} from './ports/job-progress.js';
export { RoutedMailSource, RoutedMailTarget, type MailboxRouting, type Route } from './ports/routed.js';
export { BackupRunner, type BackupRunnerOptions } from './backup/backup-runner.js';
export { CheckpointWindow } from './backup/checkpoint-window.js';
export { folderSelected, matchesFilter, type FilterableMessage } from './backup/filter.js';
export {
  RestoreRunner,
  type OpenExportWriter,
  type RestoreCommand,
  type RestoreRunnerOptions,
} from './restore/restore-runner.js';
export {
  readAllItems,
  RESTORE_ITEMS_PAGE,
  RestoreItemsError,
  type RestoreItemPage,
  type RestoreItemSource,
} from './restore/restore-items.js';
export { openRestoreItem, RestoreItemFailure, type SealedObjectSource } from './restore/open-restore-item.js';
export {
  boundedReason,
  countOutcomes,
  destinationOf,
  restoreJobState,
  type Destination,
  type OutcomeCounts,
} from './restore/restore-plan.js';
export { folderKey, mailboxFolderKey, SessionBudget, TargetLocks, targetKey } from './restore/target-locks.js';
export * from './export/index.js';
