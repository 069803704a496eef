//! `rvs-web`: how an operator sees a running director. The daemon fills in an
//! [`Observed`] at request time (summing the per-worker counters the data plane
//! already keeps, so counting costs the packet path nothing), and this crate renders
//! it three ways over a small read-only HTTP/1.1 server ([`WebServer`]):
//!
//! - `/metrics`: Prometheus text ([`metrics::render`]) with node_exporter's IPVS
//!   metrics, so existing LVS dashboards work unchanged, plus rvs's own;
//! - `/`: a live status page ([`page::render`]) in the spirit of HAProxy's, with no
//!   external assets (`/status.css`, `/status.js`), refreshing itself from
//! - `/status.json`: the observation as JSON, with a director-wide summary.
//!
//! Modules: [`model`] (the data), [`exposition`] (the text format), [`metrics`],
//! [`page`], [`http`].
//!
//! # Metrics
//!
//! node_exporter's `ipvs` collector, same names, help, types and labels:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `node_ipvs_connections_total` | counter | — |
//! | `node_ipvs_incoming_packets_total` | counter | — |
//! | `node_ipvs_outgoing_packets_total` | counter | — |
//! | `node_ipvs_incoming_bytes_total` | counter | — |
//! | `node_ipvs_outgoing_bytes_total` | counter | — |
//! | `node_ipvs_backend_connections_active` | gauge | B |
//! | `node_ipvs_backend_connections_inactive` | gauge | B |
//! | `node_ipvs_backend_weight` (effective weight) | gauge | B |
//!
//! B = `local_address`, `local_port`, `remote_address`, `remote_port`, `proto`,
//! `local_mark` (`proto` is `TCP`, `UDP` or `FWM`; a firewall-mark service has
//! `local_address=""`, `local_port="0"` and `local_mark` in `%08X`; others `local_mark=""`).
//! S = `local_address`, `local_port`, `proto`, `local_mark` (B without the real server).
//!
//! rvs's own:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `rvs_build_info` | gauge | `version`, `commit`, `rustc` |
//! | `rvs_uptime_seconds` | gauge | — |
//! | `rvs_virtual_service_info` | gauge | S, `scheduler`, `persistence_seconds` |
//! | `rvs_virtual_service_{connections,incoming_packets,outgoing_packets,incoming_bytes,outgoing_bytes}_total` | counter | S |
//! | `rvs_real_server_{connections,incoming_packets,outgoing_packets,incoming_bytes,outgoing_bytes}_total` | counter | B |
//! | `rvs_real_server_info` | gauge | B, `method` (`masq`, `tunnel`, `route`) |
//! | `rvs_real_server_configured_weight` | gauge | B |
//! | `rvs_real_server_persistent_connections` | gauge | B |
//! | `rvs_real_server_health_up` | gauge | B |
//! | `rvs_real_server_health_checks_total` | counter | B |
//! | `rvs_real_server_health_check_success` | gauge | B |
//! | `rvs_real_server_health_check_latency_seconds` | gauge | B |
//! | `rvs_drops_total` | counter | `reason` |
//! | `rvs_connection_table_entries` | gauge | `worker`, `kind` (`connection`, `template`) |
//! | `rvs_connection_table_bytes` | gauge | `worker` |
//! | `rvs_connection_table_buckets` | gauge | — |
//! | `rvs_worker_{received_frames,transmitted_frames,batches,tx_ring_full,truncated_frames,neighbour_waits,neighbour_timeouts,polls,icmp_sent,checksums_completed,dropped_frames}_total` | counter | `worker` |
//! | `rvs_worker_verdicts_total` | counter | `worker`, `verdict` (`forwarded`, `replied`, `passed`, `dropped`) |
//! | `rvs_vrrp_state` | gauge | `instance`, `interface`, `vrid`, `state` (`INIT`, `BACKUP`, `MASTER`, `FAULT`) |
//! | `rvs_vrrp_priority` | gauge | `instance`, `interface`, `vrid` |
//! | `rvs_vrrp_{adverts_sent,adverts_received,adverts_dropped,became_master}_total` | counter | `instance`, `interface`, `vrid` |
//! | `rvs_sync_{messages_sent,messages_received,messages_rejected,connections_sent,connections_received}_total` | counter | `role`, `syncid` |
//! | `rvs_sync_lag_seconds` | gauge | `role`, `syncid` |
//!
//! Health, VRRP and sync families appear once the daemon reports them. The mean
//! batch size of a worker is
//! `rate(rvs_worker_received_frames_total[1m]) / rate(rvs_worker_batches_total[1m])`.

pub mod exposition;
pub mod http;
pub mod metrics;
pub mod model;
pub mod page;

pub use http::{check_listen_addr, Observe, WebError, WebServer, DEFAULT_LISTEN};
pub use model::{
    BuildInfo, CheckResult, DirectorInfo, DropCount, Health, HealthState, Observed, RealServer,
    ServiceProto, SyncCounters, SyncDaemon, SyncRole, VirtualService, VrrpInstance, VrrpState,
    Worker,
};
