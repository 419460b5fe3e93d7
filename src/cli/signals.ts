/**
 * Long-running commands (`start`, `worker`, `sandbox`, `demo`) run until SIGINT (Ctrl-C) or SIGTERM,
 * then stop cleanly. A second signal while stopping gives up and exits at once.
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (sig: NodeJS.Signals) => {
      process.off('SIGINT', first);
      process.off('SIGTERM', first);
      const force = () => process.exit(130);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve(sig);
    };
    process.on('SIGINT', first);
    process.on('SIGTERM', first);
  });
}
