/** Why storage refuses one item of a commit batch for good (its batch-mates are stored regardless). */
export type RejectionCode =
  /** The batch's tenant does not exist. */
  | 'tenant-unknown'
  /** The inline bytes the item names lie outside the batch's data. */
  | 'inline-out-of-range'
  /** A chunk the item names is not (or no longer) in the chunk stream, or is not the chunk promised. */
  | 'chunk-missing'
  | 'chunk-inconsistent'
  /** The bytes are not exactly one sealed object of the item's content id and key id. */
  | 'not-a-sealed-object';

/**
 * One item of a commit batch can never be stored as sent: the same bytes would fail the same way on
 * every redelivery. The connector is told the reason and sends the message again in a later run.
 */
export class CommitRejection extends Error {
  override readonly name = 'CommitRejection';

  constructor(
    readonly code: RejectionCode,
    message: string,
  ) {
    super(message);
  }
}
