// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-secret.d.ts" />
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/docker@0.2.0' {
  /**
   * Read. Containers (running or not) matching `filter`, limited to those
   * the grant lets the plugin read: the others are left out, not refused.
   */
  export function listContainers(filter: ContainerFilter): Array<ContainerSummary>;
  /**
   * Read. State, health, image, restart count, memory limit, networks,
   * ports, labels, exit code, start time.
   */
  export function inspectContainer(name: string): ContainerInfo;
  /**
   * Read. The last `tail` lines (default 100) since `since` (unix seconds),
   * stdout and stderr interleaved; capped at `max-bytes` (default and most
   * 256 KiB), keeping the newest lines.
   */
  export function containerLogs(name: string, tail: number | undefined, since: bigint | undefined, maxBytes: number | undefined): LogOutput;
  /**
   * Read. One sample of CPU and memory usage (takes about a second).
   */
  export function containerStats(name: string): StatsSample;
  /**
   * Write. Starts a stopped container; starting a running one is a no-op.
   */
  export function startContainer(name: string): void;
  /**
   * Write. Stops it, killing it after `timeout-secs` (default 10).
   */
  export function stopContainer(name: string, timeoutSecs: number | undefined): void;
  /**
   * Write. Restarts it (stopped ones are started), killing it after
   * `timeout-secs` (default 10).
   */
  export function restartContainer(name: string, timeoutSecs: number | undefined): void;
  /**
   * Write. Runs a granted argv inside a running container.
   */
  export function exec(name: string, request: ExecRequest): ExecResult;
  /**
   * Write. What `docker-compose up -d SERVICE` does after a re-tag: a new
   * container with the same config (env, labels, mounts, port bindings,
   * networks with aliases, cmd, entrypoint, restart policy, limits) from
   * `image`, started in place of the old one, which is removed. The image
   * must match the grant's `images`. Returns the new container.
   */
  export function recreateWithImage(name: string, image: string, timeoutSecs: number | undefined): ContainerInfo;
  /**
   * Write. Tags image `source` as `target` (`docker tag SOURCE TARGET`);
   * both must match the grant's `images`.
   */
  export function tagImage(source: string, target: string): void;
  /**
   * Read. Networks whose name matches the glob `name` (none: all), limited
   * to those the grant's `networks` cover.
   */
  export function listNetworks(name: string | undefined): Array<NetworkInfo>;
  /**
   * Read. Driver, IPAM subnets and gateways, labels, attached containers.
   */
  export function inspectNetwork(name: string): NetworkInfo;
  /**
   * Write. Creates a network; `conflict` when the name exists.
   */
  export function createNetwork(spec: NetworkSpec): NetworkInfo;
  /**
   * Write. Removes a network; `conflict` while containers are attached.
   */
  export function removeNetwork(name: string): void;
  /**
   * Write. Attaches a container to a network with DNS aliases.
   */
  export function connectNetwork(network: string, container: string, aliases: Array<string>): void;
  /**
   * Write. Detaches a container from a network (`force` works when the
   * container is not running, or the endpoint is gone).
   */
  export function disconnectNetwork(network: string, container: string, force: boolean): void;
  /**
   * Read. The swarm this engine manages; none when it is not a manager.
   */
  export function swarmInspect(): SwarmInfo | undefined;
  /**
   * Write (the grant's `swarm = true`). Makes this engine a single-node
   * swarm manager (`docker swarm init`), which Docker secrets need;
   * an engine that already manages a swarm is left as it is.
   */
  export function swarmInit(advertiseAddr: string | undefined): SwarmInfo;
  /**
   * Read. Secrets whose name the grant's `secrets` globs cover.
   */
  export function listSecrets(): Array<SecretInfo>;
  /**
   * Write. Creates the Docker secret `name` from a host-held secret: the
   * value goes from its source into Docker without entering the plugin,
   * the journal or the terminal. `conflict` when the name exists.
   */
  export function createSecret(name: string, value: Secret, labels: Array<Label>): SecretInfo;
  /**
   * Write. Removes a Docker secret; false when it did not exist.
   */
  export function removeSecret(name: string): boolean;
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  export type Secret = import('drhost:runbook/secret@0.2.0').Secret;
  /**
   * A key/value pair (labels, driver options).
   */
  export interface Label {
    key: string,
    value: string,
  }
  /**
   * Which containers `list-containers` returns. Every field narrows; all
   * `none` means every container the grant lets the plugin read.
   */
  export interface ContainerFilter {
    /**
     * A glob over the container name, e.g. `toolboxai-backend*`.
     */
    name?: string,
    /**
     * The `com.docker.compose.project` label, exactly.
     */
    composeProject?: string,
    /**
     * A glob over the `com.docker.compose.service` label.
     */
    composeService?: string,
    /**
     * created, running, paused, restarting, removing, exited or dead.
     */
    state?: string,
  }
  /**
   * One container as `docker ps -a` shows it.
   */
  export interface ContainerSummary {
    id: string,
    /**
     * Without the leading `/`.
     */
    name: string,
    /**
     * The image reference it was created from.
     */
    image: string,
    /**
     * created, running, paused, restarting, removing, exited or dead.
     */
    state: string,
    /**
     * Docker's human status, e.g. "Up 5 minutes (healthy)".
     */
    status: string,
    composeProject?: string,
    composeService?: string,
  }
  /**
   * A container's attachment to one network.
   */
  export interface Endpoint {
    network: string,
    /**
     * DNS aliases on that network (the container's short id is left out).
     */
    aliases: Array<string>,
    ipAddress: string,
  }
  /**
   * A published port: `container-port` (e.g. `8000/tcp`) on `host-ip:host-port`.
   */
  export interface PortBinding {
    containerPort: string,
    hostIp: string,
    hostPort: string,
  }
  /**
   * What `docker inspect` says about a container, the parts a runbook uses.
   */
  export interface ContainerInfo {
    id: string,
    name: string,
    /**
     * The image reference from its config (e.g. `toolboxai/backend:latest`).
     */
    image: string,
    /**
     * The image id it runs (`sha256:…`).
     */
    imageId: string,
    /**
     * created, running, paused, restarting, removing, exited or dead.
     */
    state: string,
    running: boolean,
    /**
     * starting, healthy or unhealthy; none without a health check.
     */
    health?: string,
    restartCount: number,
    exitCode: bigint,
    oomKilled: boolean,
    /**
     * The engine's error for the last start, if any.
     */
    error: string,
    /**
     * RFC 3339; `0001-01-01T00:00:00Z` when never started.
     */
    startedAt: string,
    finishedAt: string,
    /**
     * Memory limit in bytes; 0 means none.
     */
    memoryLimit: bigint,
    networks: Array<Endpoint>,
    ports: Array<PortBinding>,
    labels: Array<Label>,
    composeProject?: string,
    composeService?: string,
  }
  /**
   * Log lines, oldest first.
   */
  export interface LogOutput {
    lines: Array<string>,
    /**
     * Whether lines were dropped to keep within the byte cap.
     */
    truncated: boolean,
  }
  /**
   * One sample of resource usage (what `docker stats --no-stream` shows).
   */
  export interface StatsSample {
    cpuPercent: number,
    memoryUsage: bigint,
    /**
     * 0 when the container is not running.
     */
    memoryLimit: bigint,
  }
  /**
   * A command to run inside a container: argv only, never a shell string
   * (unless the grant allows `sh -c` explicitly).
   */
  export interface ExecRequest {
    argv: Array<string>,
    /**
     * `NAME=value` entries added to the container's environment.
     */
    env: Array<string>,
    /**
     * Defaults to 30 s; never beyond the run's deadline.
     */
    timeoutMs?: number,
  }
  /**
   * How the command ended. A non-zero exit is a result, not an error.
   */
  export interface ExecResult {
    exitCode?: number,
    /**
     * Output as UTF-8 (invalid bytes replaced), each capped at 256 KiB.
     */
    stdout: string,
    stderr: string,
    truncated: boolean,
    durationMs: bigint,
  }
  /**
   * One IPAM pool of a network.
   */
  export interface IpamPool {
    subnet: string,
    gateway?: string,
    ipRange?: string,
  }
  /**
   * A container attached to a network.
   */
  export interface NetworkMember {
    container: string,
    ipv4Address: string,
  }
  /**
   * What `docker network inspect` says, the parts a runbook uses.
   */
  export interface NetworkInfo {
    id: string,
    name: string,
    driver: string,
    scope: string,
    internal: boolean,
    attachable: boolean,
    ipamDriver: string,
    ipam: Array<IpamPool>,
    labels: Array<Label>,
    options: Array<Label>,
    containers: Array<NetworkMember>,
  }
  /**
   * A network to create (what `docker network create` takes).
   */
  export interface NetworkSpec {
    name: string,
    /**
     * Defaults to `bridge`.
     */
    driver?: string,
    internal: boolean,
    attachable: boolean,
    /**
     * Empty: the engine picks a subnet.
     */
    ipam: Array<IpamPool>,
    labels: Array<Label>,
    options: Array<Label>,
  }
  /**
   * This engine's swarm, the parts Docker secrets need.
   */
  export interface SwarmInfo {
    nodeId: string,
    clusterId: string,
    /**
     * RFC 3339.
     */
    createdAt: string,
    managers: number,
    nodes: number,
  }
  /**
   * One Docker secret (never its value: Docker does not return it).
   */
  export interface SecretInfo {
    id: string,
    name: string,
    /**
     * RFC 3339.
     */
    createdAt: string,
    labels: Array<Label>,
  }
}
