import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('./stop-signal.ts', import.meta.url));

interface Child {
  /** Resolves once the child has printed `line`. */
  printed(line: string): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
  /** Whether the child is still running. */
  running(): boolean;
}

/** Runs `body` as an ES module in a fresh Node process, with StopSignal and StopRequested imported. */
function run(body: string): Child {
  const script = `import { StopSignal, StopRequested } from ${JSON.stringify(MODULE)};\n${body}`;
  const child = spawn(
    process.execPath,
    ['--import', '@swc-node/register/esm-register', '--input-type=module', '-e', script],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const listeners: Array<() => void> = [];
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal, output });
    }),
  );
  return {
    printed: (line) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (output.split('\n').includes(line)) resolve();
        };
        listeners.push(check);
        check();
        void exited.then(() =>
          output.split('\n').includes(line) ? resolve() : reject(new Error(`exited without "${line}": ${output}`)),
        );
      }),
    kill: (signal) => child.kill(signal),
    exited,
    running: () => !done,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('StopSignal', () => {
  it('keeps the process up while it waits, and lets it stop cleanly on SIGTERM', async () => {
    const child = run(`
      const stop = new StopSignal();
      console.log('ready');
      const signal = await stop.wait();
      await new Promise((resolve) => setTimeout(resolve, 20)); // what the demo's shutdown does
      console.log('stopped by ' + signal);
    `);
    await child.printed('ready');
    // The demo used to exit here, right after "Press Ctrl-C to stop", leaving its processes behind.
    await sleep(500);
    expect(child.running()).toBe(true);
    child.kill('SIGTERM');
    const { code, output } = await child.exited;
    expect(output).toContain('stopped by SIGTERM');
    expect(code).toBe(0);
  });

  it('takes Ctrl-C during start-up without dying of it, so that what was started can be stopped', async () => {
    const child = run(`
      const stop = new StopSignal();
      console.log('starting');
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // a start-up step
      try {
        stop.throwIfReceived();
        console.log('not stopped');
      } catch (error) {
        console.log(error instanceof StopRequested ? 'stopping after ' + error.signal : 'other ' + error);
      }
    `);
    await child.printed('starting');
    child.kill('SIGINT');
    const { code, signal, output } = await child.exited;
    expect(signal).toBeNull();
    expect(output).toContain('stopping after SIGINT');
    expect(code).toBe(0);
  });

  it('lets the process end once disposed although a wait is pending (the demo with --once)', async () => {
    const child = run(`
      const stop = new StopSignal();
      void stop.wait();
      stop.dispose();
      console.log('done');
    `);
    const { code, output } = await child.exited;
    expect(output).toContain('done');
    expect(code).toBe(0);
  });

  it('ends at once on a second signal while stopping', async () => {
    const child = run(`
      const stop = new StopSignal();
      console.log('ready');
      await stop.wait();
      console.log('stopping slowly');
      await new Promise((resolve) => setTimeout(resolve, 30_000));
      console.log('finished stopping');
    `);
    await child.printed('ready');
    child.kill('SIGINT');
    await child.printed('stopping slowly');
    child.kill('SIGINT');
    const { signal, output } = await child.exited;
    expect(signal).toBe('SIGINT');
    expect(output).not.toContain('finished stopping');
  });
});
