/**
 * A locally started service instance. Every launcher in this folder follows the same contract:
 * - `start<Service>({ dir })` keeps all state (data, config, logs, `state.json`) under `dir`;
 * - called again with the same `dir` while the instance is alive and answering, it returns the
 *   running instance (`reused: true`) instead of starting a second one (safe to run twice);
 * - ports are free ports chosen at start, bound on 127.0.0.1 only;
 * - `stop()` stops every process by PID (SIGTERM, then SIGKILL after a grace period).
 */
export interface ServiceHandle<TInfo> {
  readonly info: TInfo;
  readonly reused: boolean;
  stop(): Promise<void>;
}

export interface LauncherOptions {
  /** Directory that holds everything of this instance. Created if missing. */
  dir: string;
}
