// What machine a benchmark ran on, recorded with its results so figures can be compared.
import os from 'node:os';

export function machineInfo() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model,
    cpus: os.cpus().length,
  };
}
