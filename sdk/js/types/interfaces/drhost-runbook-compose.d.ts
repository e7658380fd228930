// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/compose@0.2.0' {
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  /**
   * One service's container as `docker compose ps -a` shows it.
   */
  export interface ServiceState {
    service: string,
    container: string,
    /**
     * created, running, paused, restarting, removing, exited or dead.
     */
    state: string,
    /**
     * starting, healthy or unhealthy; none without a health check.
     */
    health?: string,
    /**
     * The exit code of a container that stopped.
     */
    exitCode?: number,
  }
  
  export class Project implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Read. Opens the label (`[targets.compose.<label>]`).
    */
    static open(label: string): Project;
    /**
    * Read. Every service's container, running or not.
    */
    ps(): Array<ServiceState>;
    /**
    * Up. Creates and starts `services` (all when empty) detached, in the
    * compose file's dependency order; waits until each is running.
    */
    up(services: Array<string>): Array<ServiceState>;
    /**
    * Down. Stops and removes the project's containers and networks, and
    * its named volumes when `volumes`.
    */
    down(volumes: boolean): void;
    /**
    * Restart. Restarts `services` (all when empty).
    */
    restart(services: Array<string>): Array<ServiceState>;
    /**
    * Read. The last `tail` lines of a service's logs, oldest first.
    */
    logs(service: string, tail: number): Array<string>;
    [Symbol.dispose](): void;
  }
}
