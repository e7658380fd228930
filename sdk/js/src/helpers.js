// Small helpers: log lines, the run's time and mode, and the calls most
// plugins make (a program, a health URL, containers by name).

import { http, log, runInfo, shell } from './contract.js';

/** Logs at debug level (shown to the operator and journaled). */
export function debug(message) {
  log.write('debug', String(message));
}

/** Logs at info level. */
export function info(message) {
  log.write('info', String(message));
}

/** Logs at warn level. */
export function warn(message) {
  log.write('warn', String(message));
}

/** Logs at error level. */
export function error(message) {
  log.write('error', String(message));
}

/** Milliseconds before the run's deadline (`drhost run --timeout`) stops the plugin. */
export function timeLeftMs() {
  return Number(runInfo.timeLeftMs());
}

/** Whether this run is a plan (`drhost run --plan`): writes are recorded, not made. */
export function isPlan() {
  return runInfo.mode() === 'plan';
}

/** Runs an allow-listed program (argv only, never a shell string). */
export function runProgram(program, args, timeoutMs) {
  return shell.run({ program, args: [...args], timeoutMs });
}

/** GETs a URL on a granted host (default timeout 10 s). */
export function httpGet(url, timeoutMs) {
  return http.get(url, timeoutMs);
}

/** A container filter selecting names by glob (`toolboxai-backend*`). */
export function containersNamed(glob) {
  return { name: glob, composeProject: undefined, composeService: undefined, state: undefined };
}

/**
 * The URL of `path` on the host port published for `containerPort`
 * (`8000/tcp`) of an inspected container; `0.0.0.0` and empty host addresses
 * become `127.0.0.1`. Undefined when the port is not published.
 */
export function publishedUrl(container, containerPort, path) {
  for (const binding of container.ports) {
    if (binding.containerPort === containerPort && binding.hostPort) {
      const host = ['', '0.0.0.0', '::'].includes(binding.hostIp) ? '127.0.0.1' : binding.hostIp;
      return `http://${host}:${binding.hostPort}${path}`;
    }
  }
  return undefined;
}
