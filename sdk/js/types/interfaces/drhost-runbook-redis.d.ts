// Generated from wit/0.2.0 by sdk/js/scripts/wit-types.mjs: do not edit.
/// <reference path="./drhost-runbook-types.d.ts" />
declare module 'drhost:runbook/redis@0.2.0' {
  export type Error = import('drhost:runbook/types@0.2.0').Error;
  /**
   * One element of an array reply. Arrays inside arrays are rendered as
   * `nested` text (WIT types cannot be recursive).
   */
  export type Scalar = ScalarNil | ScalarInt | ScalarText | ScalarBulk | ScalarDouble | ScalarBoolean | ScalarError | ScalarNested;
  export interface ScalarNil {
    tag: 'nil',
  }
  export interface ScalarInt {
    tag: 'int',
    val: bigint,
  }
  /**
   * A status or verbatim string ("OK", "PONG").
   */
  export interface ScalarText {
    tag: 'text',
    val: string,
  }
  /**
   * A bulk string, as bytes (use `text` helpers in the SDK for UTF-8).
   */
  export interface ScalarBulk {
    tag: 'bulk',
    val: Uint8Array,
  }
  export interface ScalarDouble {
    tag: 'double',
    val: number,
  }
  export interface ScalarBoolean {
    tag: 'boolean',
    val: boolean,
  }
  /**
   * An error reply inside an array (e.g. from EXEC).
   */
  export interface ScalarError {
    tag: 'error',
    val: string,
  }
  /**
   * A deeper array, each element rendered as text.
   */
  export interface ScalarNested {
    tag: 'nested',
    val: Array<string>,
  }
  /**
   * A command's reply.
   */
  export type Reply = ReplyNil | ReplyInt | ReplyText | ReplyBulk | ReplyDouble | ReplyBoolean | ReplyArray;
  export interface ReplyNil {
    tag: 'nil',
  }
  export interface ReplyInt {
    tag: 'int',
    val: bigint,
  }
  /**
   * A status or verbatim string ("OK", "PONG").
   */
  export interface ReplyText {
    tag: 'text',
    val: string,
  }
  /**
   * A bulk string, as bytes.
   */
  export interface ReplyBulk {
    tag: 'bulk',
    val: Uint8Array,
  }
  export interface ReplyDouble {
    tag: 'double',
    val: number,
  }
  export interface ReplyBoolean {
    tag: 'boolean',
    val: boolean,
  }
  /**
   * An array (RESP3 maps and sets arrive flattened, key then value).
   */
  export interface ReplyArray {
    tag: 'array',
    val: Array<Scalar>,
  }
  /**
   * A node as `host:port` parts.
   */
  export interface Address {
    host: string,
    port: number,
  }
  /**
   * One replica as its master's `INFO replication` lists it.
   */
  export interface ReplicaLink {
    address: Address,
    /**
     * `online`, `wait_bgsave`, `send_bulk`…
     */
    state: string,
    /**
     * Replication offset the replica acknowledged.
     */
    offset: bigint,
    /**
     * Seconds since its last acknowledgement.
     */
    lag: bigint,
  }
  /**
   * `INFO replication`, parsed.
   */
  export interface ReplicationInfo {
    /**
     * `master` or `slave`.
     */
    role: string,
    /**
     * Replicas connected to this node (a master's view).
     */
    replicas: Array<ReplicaLink>,
    /**
     * The master this node replicates from (a replica's view).
     */
    master?: Address,
    /**
     * `up` or `down` (a replica's view).
     */
    masterLinkStatus?: string,
    /**
     * Seconds since the last interaction with the master (a replica's view).
     */
    masterLastIoSecondsAgo?: bigint,
    /**
     * Whether a full sync is in progress (a replica's view).
     */
    masterSyncInProgress: boolean,
    /**
     * This node's replication offset (`master_repl_offset`).
     */
    masterReplOffset: bigint,
    /**
     * The replica's processed offset (`slave_repl_offset`), a replica's view.
     */
    replicaReplOffset?: bigint,
    /**
     * `master_replid`.
     */
    replicationId: string,
  }
  /**
   * `SENTINEL MASTER name`, the fields a runbook needs, plus all of them raw.
   */
  export interface MasterState {
    address: Address,
    /**
     * e.g. `master`, `s_down`, `o_down`, `failover_in_progress`.
     */
    flags: Array<string>,
    numReplicas: number,
    numOtherSentinels: number,
    quorum: number,
    configEpoch: bigint,
    /**
     * Every field of the reply.
     */
    fields: Array<[string, string]>,
  }
  /**
   * One replica as `SENTINEL REPLICAS name` lists it.
   */
  export interface ReplicaState {
    address: Address,
    /**
     * e.g. `slave`, `s_down`, `disconnected`.
     */
    flags: Array<string>,
    /**
     * `ok` or `err`.
     */
    masterLinkStatus: string,
    /**
     * The master it replicates from, as it reports.
     */
    master?: Address,
    replicaReplOffset: bigint,
    /**
     * Every field of the reply.
     */
    fields: Array<[string, string]>,
  }
  /**
   * Another Sentinel as `SENTINEL SENTINELS name` lists it.
   */
  export interface PeerState {
    address: Address,
    runId: string,
    flags: Array<string>,
  }
  /**
   * One Sentinel's answer to `master-address`: none when it does not know
   * the master name.
   */
  export interface AddressAnswer {
    sentinel: Address,
    answer: Result<Address | undefined, Error>,
  }
  /**
   * One Sentinel's answer to `master-state`.
   */
  export interface StateAnswer {
    sentinel: Address,
    answer: Result<MasterState, Error>,
  }
  /**
   * One Sentinel's answer to `replicas`.
   */
  export interface ReplicasAnswer {
    sentinel: Address,
    answer: Result<Array<ReplicaState>, Error>,
  }
  /**
   * One Sentinel's answer to `sentinels`.
   */
  export interface PeersAnswer {
    sentinel: Address,
    answer: Result<Array<PeerState>, Error>,
  }
  /**
   * One Sentinel's answer to `ckquorum`: its text when the quorum is
   * reachable, `failed("NOQUORUM …")` when not.
   */
  export interface QuorumAnswer {
    sentinel: Address,
    answer: Result<string, Error>,
  }
  export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E };
  
  export class Connection implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Read. Connects to the node the target's `url` names.
    */
    static open(label: string): Connection;
    /**
    * Read. Asks the target's Sentinels for the current master (the answer
    * most of them give) and connects to it.
    */
    static openMaster(label: string): Connection;
    /**
    * Read. Connects to `host:port`, which must be the target's `url` or a
    * node the target's Sentinels report for its master (master or replica).
    */
    static openNode(label: string, node: Address): Connection;
    /**
    * The node this connection talks to.
    */
    address(): Address;
    /**
    * Read, Write or Admin, by the command (`args[0]`): reads (GET, INFO,
    * PING, ROLE, SCAN, TTL…) need `read`, writes (SET, DEL, INCR…) need
    * `write`, everything else (FLUSHALL, CONFIG, SHUTDOWN, REPLICAOF,
    * DEBUG, unknown commands…) needs `admin`. AUTH and HELLO are refused:
    * credentials come from the operator's config.
    */
    command(args: Array<string>): Reply;
    /**
    * Read. PING; returns the round trip in microseconds.
    */
    ping(): bigint;
    /**
    * Read. `INFO section` (all sections when empty) as key/value pairs.
    */
    info(section: string): Array<[string, string]>;
    /**
    * Read. `INFO replication`, parsed.
    */
    replication(): ReplicationInfo;
    [Symbol.dispose](): void;
  }
  
  export class Sentinel implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * Read. The Sentinels of target `label` (its `sentinels` list).
    */
    static open(label: string): Sentinel;
    /**
    * The Sentinels configured for the target.
    */
    members(): Array<Address>;
    /**
    * The master name the target monitors (`master_name`).
    */
    masterName(): string;
    /**
    * Read. `SENTINEL GET-MASTER-ADDR-BY-NAME name`.
    */
    masterAddress(name: string, only: Address | undefined): Array<AddressAnswer>;
    /**
    * Read. `SENTINEL MASTER name`.
    */
    masterState(name: string, only: Address | undefined): Array<StateAnswer>;
    /**
    * Read. `SENTINEL REPLICAS name`.
    */
    replicas(name: string, only: Address | undefined): Array<ReplicasAnswer>;
    /**
    * Read. `SENTINEL SENTINELS name`.
    */
    sentinels(name: string, only: Address | undefined): Array<PeersAnswer>;
    /**
    * Read. `SENTINEL CKQUORUM name`.
    */
    ckquorum(name: string, only: Address | undefined): Array<QuorumAnswer>;
    /**
    * Admin (`sentinel-failover` access). `SENTINEL FAILOVER name`, sent to
    * `only`, else to each Sentinel in turn until one accepts. Returns the
    * Sentinel that accepted. Does not wait for the new master.
    */
    failover(name: string, only: Address | undefined): Address;
    [Symbol.dispose](): void;
  }
}
