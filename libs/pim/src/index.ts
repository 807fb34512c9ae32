export {
  structuredItemSchema,
  type AppointmentItem,
  type ContactItem,
  type NoteItem,
  type NotificationItem,
  type PhoneMessageItem,
  type StructuredItem,
  type StructuredItemInput,
  type TaskItem,
} from './structured-item.js';
export { CANONICAL_PRODID, writeAppointment, writeNote, writeTask } from './icalendar-writer.js';
export { writeContact } from './vcard-writer.js';
export { writeNotification, writePhoneMessage } from './message-writer.js';
export { InvalidItemError, renderStructuredItem, type RenderedItem } from './render-item.js';
/** Items of every kind with the awkward parts real data has: for the tests of whatever produces or reads them. */
export { sampleItemsOfEveryKind } from './testing/sample-items.js';
