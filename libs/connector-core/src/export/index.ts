export { exportRefusal, openExportWriter, type ExportWriter } from './export-writer.js';
export { readMboxrd } from './mboxrd.js';
export { emlEntryName, readEmlZip } from './eml-zip.js';
export {
  manifestPathOf,
  readExportManifest,
  type ExportFormat,
  type ExportManifest,
  type ExportManifestEntry,
} from './export-manifest.js';
