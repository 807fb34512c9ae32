import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

export class PassphraseError extends Error {
  override readonly name = 'PassphraseError';
}

/** Asks on the terminal without echoing what is typed. */
export async function promptHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => resolve(answer));
      muted = true;
    });
  } finally {
    muted = false;
    rl.close();
    process.stderr.write('\n');
  }
}

/**
 * The recovery-kit passphrase: from MLR_RECOVERY_PASSPHRASE when set, else typed on the terminal
 * (twice when `confirm`, for a new kit). Without either, a clear error instead of a hang.
 */
export async function recoveryPassphrase(options: {
  fromEnv: string | undefined;
  purpose: string;
  confirm: boolean;
  interactive?: boolean;
}): Promise<string> {
  if (options.fromEnv !== undefined && options.fromEnv !== '') return options.fromEnv;
  if (!(options.interactive ?? process.stdin.isTTY)) {
    throw new PassphraseError(
      `a recovery-kit passphrase is needed to ${options.purpose}: set MLR_RECOVERY_PASSPHRASE or run the command in a terminal`,
    );
  }
  const first = await promptHidden(`Recovery-kit passphrase (to ${options.purpose}): `);
  if (options.confirm) {
    const second = await promptHidden('The same passphrase again: ');
    if (second !== first) throw new PassphraseError('the two passphrases differ: nothing was written');
  }
  return first;
}
