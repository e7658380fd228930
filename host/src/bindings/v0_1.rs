//! Contract `drhost:runbook@0.1.x` (`wit/0.1.2/`, frozen), kept so plugins
//! built for it run unchanged.
//!
//! Nothing here does any work: each 0.1 function converts its arguments to
//! the latest contract's types, calls the latest implementation, and
//! converts the answer back. The types of 0.1 and the latest are separate
//! Rust types with the same shape; [`Conv`] maps one onto the other field by
//! field. Resources are the same Rust types in both (`with:`), so a handle
//! is shared as is. What 0.1 cannot express is mapped to its nearest: an
//! `error.planned` (0.2) reaches a 0.1 plugin as `conflict` saying so.
//!
//! When 0.1 support is dropped, this file and `wit/0.1.2/` go, nothing else.

use wasmtime::component::Resource;

use crate::caps::kit::{Answer, CallError};
use crate::sandbox::RunState;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/0.1.2",
    imports: { default: async | trappable },
    exports: { default: async },
    trappable_error_type: { "drhost:runbook/types.error" => crate::caps::kit::CallError },
    with: {
        "drhost:runbook/progress.step": crate::caps::progress::Step,
        "drhost:runbook/blob.blob": crate::caps::blob::Blob,
        "drhost:runbook/redis.connection": crate::caps::redis::Connection,
        "drhost:runbook/redis.sentinel": crate::caps::redis::SentinelSet,
        "drhost:runbook/postgres.database": crate::caps::postgres::Database,
        "drhost:runbook/s3.bucket": crate::caps::s3::Bucket,
        "drhost:runbook/vault.store": crate::caps::vault::Store,
        "drhost:runbook/vault.secret": crate::caps::secret::Secret,
    },
});

/// The newest 0.1 contract this host runs; plugins built for 0.1.0 to this
/// one link here.
pub const CONTRACT_VERSION: &str = "0.1.2";

use self::drhost::runbook as old;
use crate::bindings::drhost::runbook as new;
use crate::caps::redis::{Connection, SentinelSet};
use crate::caps::{blob::Blob, postgres::Database, progress::Step, s3::Bucket, secret::Secret, vault::Store};

/// A value of one contract version as the same value of the other.
pub trait Conv<T> {
    /// The converted value.
    fn conv(self) -> T;
}

macro_rules! identity {
    ($($t:ty),* $(,)?) => { $(impl Conv<$t> for $t { fn conv(self) -> $t { self } })* };
}
identity!(
    String,
    bool,
    u8,
    u16,
    u32,
    u64,
    i32,
    i64,
    f64,
    CallError,
    wasmtime::Error
);

impl<T: 'static> Conv<Resource<T>> for Resource<T> {
    fn conv(self) -> Resource<T> {
        self
    }
}
impl<A: Conv<B>, B> Conv<Vec<B>> for Vec<A> {
    fn conv(self) -> Vec<B> {
        self.into_iter().map(Conv::conv).collect()
    }
}
impl<A: Conv<B>, B> Conv<Option<B>> for Option<A> {
    fn conv(self) -> Option<B> {
        self.map(Conv::conv)
    }
}
impl<A: Conv<B>, B, E: Conv<F>, F> Conv<Result<B, F>> for Result<A, E> {
    fn conv(self) -> Result<B, F> {
        self.map(Conv::conv).map_err(Conv::conv)
    }
}
impl<A: Conv<B>, B, C: Conv<D>, D> Conv<(B, D)> for (A, C) {
    fn conv(self) -> (B, D) {
        (self.0.conv(), self.1.conv())
    }
}
impl Conv<()> for () {
    fn conv(self) {}
}

/// Records of the same shape in both versions, converted both ways.
macro_rules! records {
    ($iface:ident { $($ty:ident { $($field:ident),* $(,)? })* }) => { $(
        impl Conv<new::$iface::$ty> for old::$iface::$ty {
            fn conv(self) -> new::$iface::$ty { new::$iface::$ty { $($field: self.$field.conv()),* } }
        }
        impl Conv<old::$iface::$ty> for new::$iface::$ty {
            fn conv(self) -> old::$iface::$ty { old::$iface::$ty { $($field: self.$field.conv()),* } }
        }
    )* };
}

/// Enums and variants of the same cases in both versions, both ways.
macro_rules! variants {
    ($iface:ident { $($ty:ident { $($case:ident $(($x:ident))?),* $(,)? })* }) => { $(
        impl Conv<new::$iface::$ty> for old::$iface::$ty {
            fn conv(self) -> new::$iface::$ty {
                match self { $(old::$iface::$ty::$case $(($x))? => new::$iface::$ty::$case $(($x.conv()))?),* }
            }
        }
        impl Conv<old::$iface::$ty> for new::$iface::$ty {
            fn conv(self) -> old::$iface::$ty {
                match self { $(new::$iface::$ty::$case $(($x))? => old::$iface::$ty::$case $(($x.conv()))?),* }
            }
        }
    )* };
}

// ---- types -----------------------------------------------------------------

impl Conv<old::types::Error> for new::types::Error {
    fn conv(self) -> old::types::Error {
        use new::types::Error as E;
        use old::types::Error as O;
        match self {
            E::AccessDenied(m) => O::AccessDenied(m),
            E::NotFound(m) => O::NotFound(m),
            E::InvalidArgument(m) => O::InvalidArgument(m),
            E::Unavailable(m) => O::Unavailable(m),
            E::Timeout(m) => O::Timeout(m),
            E::Conflict(m) => O::Conflict(m),
            E::Failed(m) => O::Failed(m),
            E::Planned(m) => O::Conflict(format!("plan mode: not done, recorded as planned: {m}")),
        }
    }
}
impl Conv<new::types::Error> for old::types::Error {
    fn conv(self) -> new::types::Error {
        use new::types::Error as E;
        use old::types::Error as O;
        match self {
            O::AccessDenied(m) => E::AccessDenied(m),
            O::NotFound(m) => E::NotFound(m),
            O::InvalidArgument(m) => E::InvalidArgument(m),
            O::Unavailable(m) => E::Unavailable(m),
            O::Timeout(m) => E::Timeout(m),
            O::Conflict(m) => E::Conflict(m),
            O::Failed(m) => E::Failed(m),
        }
    }
}
variants!(types { Access { Read, Write, Admin } });
records!(types {
    Need { capability, target, access, why }
    ParamSpec { name, description, default }
    Manifest { id, version, description, params, needs }
    Param { name, value }
    Fact { name, value }
});

/// A 0.1 outcome is a latest one without tables or follow-ups.
impl Conv<new::types::Outcome> for old::types::Outcome {
    fn conv(self) -> new::types::Outcome {
        new::types::Outcome {
            summary: self.summary,
            facts: self.facts.conv(),
            tables: Vec::new(),
            follow_ups: Vec::new(),
        }
    }
}
/// A 0.1 failure is a latest one without facts or tables.
impl Conv<new::types::Failure> for old::types::Failure {
    fn conv(self) -> new::types::Failure {
        new::types::Failure {
            summary: self.summary,
            step: self.step,
            hint: self.hint,
            facts: Vec::new(),
            tables: Vec::new(),
        }
    }
}

impl old::types::Host for RunState {
    fn convert_error(&mut self, error: CallError) -> wasmtime::Result<old::types::Error> {
        match error {
            CallError::Typed(error) => Ok(error.conv()),
            CallError::Trap(trap) => Err(trap),
        }
    }
}

// ---- log, progress, confirm, blob ------------------------------------------

variants!(log { Level { Debug, Info, Warn, Error } });

impl old::log::Host for RunState {
    async fn write(&mut self, level: old::log::Level, message: String) -> wasmtime::Result<()> {
        new::log::Host::write(self, level.conv(), message).await
    }
}

impl old::progress::Host for RunState {}
impl old::progress::HostStep for RunState {
    async fn new(&mut self, name: String) -> wasmtime::Result<Resource<Step>> {
        new::progress::HostStep::new(self, name).await
    }
    async fn note(&mut self, step: Resource<Step>, message: String) -> wasmtime::Result<()> {
        new::progress::HostStep::note(self, step, message).await
    }
    async fn finish(&mut self, step: Resource<Step>, ok: bool) -> wasmtime::Result<()> {
        new::progress::HostStep::finish(self, step, ok).await
    }
    async fn drop(&mut self, step: Resource<Step>) -> wasmtime::Result<()> {
        new::progress::HostStep::drop(self, step).await
    }
}

impl old::confirm::Host for RunState {
    async fn ask(&mut self, question: String) -> Answer<bool> {
        new::confirm::Host::ask(self, question).await
    }
}

impl old::blob::Host for RunState {}
impl old::blob::HostBlob for RunState {
    async fn size(&mut self, b: Resource<Blob>) -> wasmtime::Result<u64> {
        new::blob::HostBlob::size(self, b).await
    }
    async fn sha256(&mut self, b: Resource<Blob>) -> wasmtime::Result<String> {
        new::blob::HostBlob::sha256(self, b).await
    }
    async fn read(&mut self, b: Resource<Blob>, offset: u64, len: u32) -> Answer<Vec<u8>> {
        new::blob::HostBlob::read(self, b, offset, len).await
    }
    async fn from_bytes(&mut self, data: Vec<u8>) -> Answer<Resource<Blob>> {
        new::blob::HostBlob::from_bytes(self, data).await
    }
    async fn drop(&mut self, b: Resource<Blob>) -> wasmtime::Result<()> {
        new::blob::HostBlob::drop(self, b).await
    }
}

// ---- shell, http -------------------------------------------------------------

records!(shell {
    Command { program, args, timeout_ms }
    Completed { exit_code, stdout, stderr, truncated, duration_ms }
});
impl old::shell::Host for RunState {
    async fn run(&mut self, cmd: old::shell::Command) -> Answer<old::shell::Completed> {
        new::shell::Host::run(self, cmd.conv()).await.conv()
    }
}

records!(http { Response { status, body, truncated, duration_ms } });
impl old::http::Host for RunState {
    async fn get(&mut self, url: String, timeout_ms: Option<u32>) -> Answer<old::http::Response> {
        new::http::Host::get(self, url, timeout_ms).await.conv()
    }
}

// ---- docker ------------------------------------------------------------------

records!(docker {
    Label { key, value }
    ContainerFilter { name, compose_project, compose_service, state }
    ContainerSummary { id, name, image, state, status, compose_project, compose_service }
    Endpoint { network, aliases, ip_address }
    PortBinding { container_port, host_ip, host_port }
    ContainerInfo {
        id, name, image, image_id, state, running, health, restart_count, exit_code, oom_killed, error,
        started_at, finished_at, memory_limit, networks, ports, labels, compose_project, compose_service
    }
    LogOutput { lines, truncated }
    StatsSample { cpu_percent, memory_usage, memory_limit }
    ExecRequest { argv, env, timeout_ms }
    ExecResult { exit_code, stdout, stderr, truncated, duration_ms }
    IpamPool { subnet, gateway, ip_range }
    NetworkMember { container, ipv4_address }
    NetworkInfo { id, name, driver, scope, internal, attachable, ipam_driver, ipam, labels, options, containers }
    NetworkSpec { name, driver, internal, attachable, ipam, labels, options }
});

impl old::docker::Host for RunState {
    async fn list_containers(
        &mut self,
        filter: old::docker::ContainerFilter,
    ) -> Answer<Vec<old::docker::ContainerSummary>> {
        new::docker::Host::list_containers(self, filter.conv()).await.conv()
    }
    async fn inspect_container(&mut self, name: String) -> Answer<old::docker::ContainerInfo> {
        new::docker::Host::inspect_container(self, name).await.conv()
    }
    async fn container_logs(
        &mut self,
        name: String,
        tail: Option<u32>,
        since: Option<i64>,
        max_bytes: Option<u32>,
    ) -> Answer<old::docker::LogOutput> {
        new::docker::Host::container_logs(self, name, tail, since, max_bytes)
            .await
            .conv()
    }
    async fn container_stats(&mut self, name: String) -> Answer<old::docker::StatsSample> {
        new::docker::Host::container_stats(self, name).await.conv()
    }
    async fn start_container(&mut self, name: String) -> Answer<()> {
        new::docker::Host::start_container(self, name).await
    }
    async fn stop_container(&mut self, name: String, timeout_secs: Option<u32>) -> Answer<()> {
        new::docker::Host::stop_container(self, name, timeout_secs).await
    }
    async fn restart_container(&mut self, name: String, timeout_secs: Option<u32>) -> Answer<()> {
        new::docker::Host::restart_container(self, name, timeout_secs).await
    }
    async fn exec(&mut self, name: String, request: old::docker::ExecRequest) -> Answer<old::docker::ExecResult> {
        new::docker::Host::exec(self, name, request.conv()).await.conv()
    }
    async fn recreate_with_image(
        &mut self,
        name: String,
        image: String,
        timeout_secs: Option<u32>,
    ) -> Answer<old::docker::ContainerInfo> {
        new::docker::Host::recreate_with_image(self, name, image, timeout_secs)
            .await
            .conv()
    }
    async fn tag_image(&mut self, source: String, target: String) -> Answer<()> {
        new::docker::Host::tag_image(self, source, target).await
    }
    async fn list_networks(&mut self, name: Option<String>) -> Answer<Vec<old::docker::NetworkInfo>> {
        new::docker::Host::list_networks(self, name).await.conv()
    }
    async fn inspect_network(&mut self, name: String) -> Answer<old::docker::NetworkInfo> {
        new::docker::Host::inspect_network(self, name).await.conv()
    }
    async fn create_network(&mut self, spec: old::docker::NetworkSpec) -> Answer<old::docker::NetworkInfo> {
        new::docker::Host::create_network(self, spec.conv()).await.conv()
    }
    async fn remove_network(&mut self, name: String) -> Answer<()> {
        new::docker::Host::remove_network(self, name).await
    }
    async fn connect_network(&mut self, network: String, container: String, aliases: Vec<String>) -> Answer<()> {
        new::docker::Host::connect_network(self, network, container, aliases).await
    }
    async fn disconnect_network(&mut self, network: String, container: String, force: bool) -> Answer<()> {
        new::docker::Host::disconnect_network(self, network, container, force).await
    }
}

// ---- redis -------------------------------------------------------------------

variants!(redis {
    Scalar { Nil, Int(x), Text(x), Bulk(x), Double(x), Boolean(x), Error(x), Nested(x) }
    Reply { Nil, Int(x), Text(x), Bulk(x), Double(x), Boolean(x), Array(x) }
});
records!(redis {
    Address { host, port }
    ReplicaLink { address, state, offset, lag }
    ReplicationInfo {
        role, replicas, master, master_link_status, master_last_io_seconds_ago, master_sync_in_progress,
        master_repl_offset, replica_repl_offset, replication_id
    }
    MasterState { address, flags, num_replicas, num_other_sentinels, quorum, config_epoch, fields }
    ReplicaState { address, flags, master_link_status, master, replica_repl_offset, fields }
    PeerState { address, run_id, flags }
    AddressAnswer { sentinel, answer }
    StateAnswer { sentinel, answer }
    ReplicasAnswer { sentinel, answer }
    PeersAnswer { sentinel, answer }
    QuorumAnswer { sentinel, answer }
});

impl old::redis::Host for RunState {}
impl old::redis::HostConnection for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<Connection>> {
        new::redis::HostConnection::open(self, label).await
    }
    async fn open_master(&mut self, label: String) -> Answer<Resource<Connection>> {
        new::redis::HostConnection::open_master(self, label).await
    }
    async fn open_node(&mut self, label: String, node: old::redis::Address) -> Answer<Resource<Connection>> {
        new::redis::HostConnection::open_node(self, label, node.conv()).await
    }
    async fn address(&mut self, c: Resource<Connection>) -> wasmtime::Result<old::redis::Address> {
        new::redis::HostConnection::address(self, c).await.conv()
    }
    async fn command(&mut self, c: Resource<Connection>, args: Vec<String>) -> Answer<old::redis::Reply> {
        new::redis::HostConnection::command(self, c, args).await.conv()
    }
    async fn ping(&mut self, c: Resource<Connection>) -> Answer<u64> {
        new::redis::HostConnection::ping(self, c).await
    }
    async fn info(&mut self, c: Resource<Connection>, section: String) -> Answer<Vec<(String, String)>> {
        new::redis::HostConnection::info(self, c, section).await
    }
    async fn replication(&mut self, c: Resource<Connection>) -> Answer<old::redis::ReplicationInfo> {
        new::redis::HostConnection::replication(self, c).await.conv()
    }
    async fn drop(&mut self, c: Resource<Connection>) -> wasmtime::Result<()> {
        new::redis::HostConnection::drop(self, c).await
    }
}
impl old::redis::HostSentinel for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<SentinelSet>> {
        new::redis::HostSentinel::open(self, label).await
    }
    async fn members(&mut self, s: Resource<SentinelSet>) -> wasmtime::Result<Vec<old::redis::Address>> {
        new::redis::HostSentinel::members(self, s).await.conv()
    }
    async fn master_name(&mut self, s: Resource<SentinelSet>) -> wasmtime::Result<String> {
        new::redis::HostSentinel::master_name(self, s).await
    }
    async fn master_address(
        &mut self,
        s: Resource<SentinelSet>,
        name: String,
        only: Option<old::redis::Address>,
    ) -> Answer<Vec<old::redis::AddressAnswer>> {
        new::redis::HostSentinel::master_address(self, s, name, only.conv())
            .await
            .conv()
    }
    async fn master_state(
        &mut self,
        s: Resource<SentinelSet>,
        name: String,
        only: Option<old::redis::Address>,
    ) -> Answer<Vec<old::redis::StateAnswer>> {
        new::redis::HostSentinel::master_state(self, s, name, only.conv())
            .await
            .conv()
    }
    async fn replicas(
        &mut self,
        s: Resource<SentinelSet>,
        name: String,
        only: Option<old::redis::Address>,
    ) -> Answer<Vec<old::redis::ReplicasAnswer>> {
        new::redis::HostSentinel::replicas(self, s, name, only.conv())
            .await
            .conv()
    }
    async fn sentinels(
        &mut self,
        s: Resource<SentinelSet>,
        name: String,
        only: Option<old::redis::Address>,
    ) -> Answer<Vec<old::redis::PeersAnswer>> {
        new::redis::HostSentinel::sentinels(self, s, name, only.conv())
            .await
            .conv()
    }
    async fn ckquorum(
        &mut self,
        s: Resource<SentinelSet>,
        name: String,
        only: Option<old::redis::Address>,
    ) -> Answer<Vec<old::redis::QuorumAnswer>> {
        new::redis::HostSentinel::ckquorum(self, s, name, only.conv())
            .await
            .conv()
    }
    async fn failover(
        &mut self,
        s: Resource<SentinelSet>,
        name: String,
        only: Option<old::redis::Address>,
    ) -> Answer<old::redis::Address> {
        new::redis::HostSentinel::failover(self, s, name, only.conv())
            .await
            .conv()
    }
    async fn drop(&mut self, s: Resource<SentinelSet>) -> wasmtime::Result<()> {
        new::redis::HostSentinel::drop(self, s).await
    }
}

// ---- postgres ----------------------------------------------------------------

records!(postgres {
    Rows { columns, rows }
    TargetInfo { host, port, user, database, tls }
    RestoreOptions { clean, if_exists, no_owner, no_privileges, jobs, database }
    RestoreReport { database, duration_ms, warnings }
});

impl old::postgres::Host for RunState {
    async fn info(&mut self, label: String) -> Answer<old::postgres::TargetInfo> {
        new::postgres::Host::info(self, label).await.conv()
    }
    async fn create_database(&mut self, label: String) -> Answer<bool> {
        new::postgres::Host::create_database(self, label).await
    }
    async fn restore(
        &mut self,
        label: String,
        data: Resource<Blob>,
        options: old::postgres::RestoreOptions,
    ) -> Answer<old::postgres::RestoreReport> {
        new::postgres::Host::restore(self, label, data, options.conv())
            .await
            .conv()
    }
}
impl old::postgres::HostDatabase for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<Database>> {
        new::postgres::HostDatabase::open(self, label).await
    }
    async fn query(&mut self, d: Resource<Database>, sql: String, params: Vec<String>) -> Answer<old::postgres::Rows> {
        new::postgres::HostDatabase::query(self, d, sql, params).await.conv()
    }
    async fn execute(&mut self, d: Resource<Database>, sql: String, params: Vec<String>) -> Answer<u64> {
        new::postgres::HostDatabase::execute(self, d, sql, params).await
    }
    async fn dump(&mut self, d: Resource<Database>) -> Answer<Resource<Blob>> {
        new::postgres::HostDatabase::dump(self, d).await
    }
    async fn drop(&mut self, d: Resource<Database>) -> wasmtime::Result<()> {
        new::postgres::HostDatabase::drop(self, d).await
    }
}

// ---- s3 ----------------------------------------------------------------------

records!(s3 {
    ObjectInfo { key, size, last_modified, etag }
    ObjectHead { info, metadata }
});

impl old::s3::Host for RunState {}
impl old::s3::HostBucket for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<Bucket>> {
        new::s3::HostBucket::open(self, label).await
    }
    async fn list(&mut self, b: Resource<Bucket>, prefix: String) -> Answer<Vec<old::s3::ObjectInfo>> {
        new::s3::HostBucket::list(self, b, prefix).await.conv()
    }
    async fn head(&mut self, b: Resource<Bucket>, key: String) -> Answer<old::s3::ObjectHead> {
        new::s3::HostBucket::head(self, b, key).await.conv()
    }
    async fn get(&mut self, b: Resource<Bucket>, key: String, expect_sha256: Option<String>) -> Answer<Resource<Blob>> {
        new::s3::HostBucket::get(self, b, key, expect_sha256).await
    }
    async fn put(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        data: Resource<Blob>,
        metadata: Vec<(String, String)>,
    ) -> Answer<old::s3::ObjectInfo> {
        new::s3::HostBucket::put(self, b, key, data, metadata).await.conv()
    }
    async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        new::s3::HostBucket::drop(self, b).await
    }
}

// ---- vault (its `secret` is the latest `secret` interface's) -----------------

impl Conv<new::secret::ComposePart> for old::vault::ComposePart {
    fn conv(self) -> new::secret::ComposePart {
        use new::secret::ComposePart as P;
        match self {
            old::vault::ComposePart::Text(text) => P::Text(text),
            old::vault::ComposePart::Secret(s) => P::Secret(s),
            old::vault::ComposePart::UrlEncoded(s) => P::UrlEncoded(s),
        }
    }
}
variants!(vault { FieldValue { Text(x), Secret(x) } });
records!(vault {
    VersionInfo { version, created_time, deletion_time, destroyed }
    Metadata { current_version, oldest_version, created_time, updated_time, versions }
});

impl old::vault::Host for RunState {}
impl old::vault::HostSecret for RunState {
    async fn origin(&mut self, s: Resource<Secret>) -> wasmtime::Result<String> {
        new::secret::HostSecret::origin(self, s).await
    }
    async fn reveal(&mut self, s: Resource<Secret>) -> Answer<String> {
        new::secret::HostSecret::reveal(self, s).await
    }
    async fn compose(&mut self, parts: Vec<old::vault::ComposePart>) -> Answer<Resource<Secret>> {
        new::secret::HostSecret::compose(self, parts.conv()).await
    }
    async fn drop(&mut self, s: Resource<Secret>) -> wasmtime::Result<()> {
        new::secret::HostSecret::drop(self, s).await
    }
}
impl old::vault::HostStore for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<Store>> {
        new::vault::HostStore::open(self, label).await
    }
    async fn read(&mut self, s: Resource<Store>, path: String) -> Answer<Vec<(String, Resource<Secret>)>> {
        new::vault::HostStore::read(self, s, path).await
    }
    async fn write(
        &mut self,
        s: Resource<Store>,
        path: String,
        fields: Vec<(String, old::vault::FieldValue)>,
    ) -> Answer<u64> {
        new::vault::HostStore::write(self, s, path, fields.conv()).await
    }
    async fn patch(
        &mut self,
        s: Resource<Store>,
        path: String,
        fields: Vec<(String, old::vault::FieldValue)>,
    ) -> Answer<u64> {
        new::vault::HostStore::patch(self, s, path, fields.conv()).await
    }
    async fn list(&mut self, s: Resource<Store>, path: String) -> Answer<Vec<String>> {
        new::vault::HostStore::list(self, s, path).await
    }
    async fn metadata(&mut self, s: Resource<Store>, path: String) -> Answer<old::vault::Metadata> {
        new::vault::HostStore::metadata(self, s, path).await.conv()
    }
    async fn snapshot_save(&mut self, s: Resource<Store>) -> Answer<Resource<Blob>> {
        new::vault::HostStore::snapshot_save(self, s).await
    }
    async fn snapshot_restore(&mut self, s: Resource<Store>, data: Resource<Blob>, force: bool) -> Answer<()> {
        new::vault::HostStore::snapshot_restore(self, s, data, force).await
    }
    async fn drop(&mut self, s: Resource<Store>) -> wasmtime::Result<()> {
        new::vault::HostStore::drop(self, s).await
    }
}
