import { join } from 'node:path';
import { addDovecotUser, corpusMessages, required, seedFolder, type LocalInfrastructure } from '@mlr/testing';

/**
 * A mailbox of the calling file's own on the shared Dovecot (e2e files share it), password
 * `<name>-password`, its INBOX holding the corpus messages `from` to `to` (exclusive).
 */
export async function seedOwnMailbox(
  infra: LocalInfrastructure,
  name: string,
  from: number,
  to: number,
): Promise<void> {
  await addDovecotUser(join(infra.dir, 'dovecot'), { name, password: `${name}-password` });
  const messages = corpusMessages()
    .slice(from, to)
    .map((message) => ({ bytes: message.bytes }));
  await seedFolder(required(infra, 'imap'), name, 'INBOX', messages);
}
