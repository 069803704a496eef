//! `/metrics`: the observed director in the Prometheus text format.
//!
//! First node_exporter's `ipvs` collector, byte for byte in names, help texts, types
//! and labels, so that dashboards and alerts made for kernel IPVS read rvs unchanged:
//! the director-wide totals of `/proc/net/ip_vs_stats` (no labels) and, per real
//! server, its active/inactive connections and weight with the labels
//! `local_address`, `local_port`, `remote_address`, `remote_port`, `proto`,
//! `local_mark` valued as node_exporter values them from `/proc/net/ip_vs` (protocol
//! `TCP`/`UDP`/`FWM`; a firewall-mark service has an empty `local_address`, port `0`
//! and its mark as eight upper-case hex digits in `local_mark`; the weight is the
//! effective one). Rows with equal labels are summed, as node_exporter does.
//!
//! Then rvs's own, under `rvs_`: per virtual service and per real server counters,
//! configured weight, health checks, drops by reason, connection tables, per-worker
//! counters, VRRP and sync. The list with labels is in the crate documentation.

use std::collections::HashMap;

use rvs_core::stats::Totals;
use rvs_core::ForwardMethod;

use crate::exposition::{MetricType, Sample, TextWriter};
use crate::model::{HealthState, Observed, RealServer, VirtualService, VrrpState};

use MetricType::{Counter, Gauge};

type Labels = Vec<(&'static str, String)>;

/// Renders an observation as Prometheus text.
pub fn render(o: &Observed) -> String {
    let mut w = TextWriter::new();
    node_ipvs(&mut w, o);
    build(&mut w, o);
    services(&mut w, o);
    real_servers(&mut w, o);
    health(&mut w, o);
    drops(&mut w, o);
    tables(&mut w, o);
    workers(&mut w, o);
    vrrp(&mut w, o);
    sync(&mut w, o);
    w.finish()
}

/// The service's part of node_exporter's backend labels.
fn service_labels(s: &VirtualService) -> (String, String, String, String) {
    let local_address = s.address.map(|a| a.to_string()).unwrap_or_default();
    let local_mark = s.fwmark.map(|m| format!("{m:08X}")).unwrap_or_default();
    (
        local_address,
        s.port.to_string(),
        s.proto.as_str().to_string(),
        local_mark,
    )
}

fn virtual_labels(s: &VirtualService) -> Labels {
    let (addr, port, proto, mark) = service_labels(s);
    vec![
        ("local_address", addr),
        ("local_port", port),
        ("proto", proto),
        ("local_mark", mark),
    ]
}

/// node_exporter's six backend labels, in its order.
fn backend_labels(s: &VirtualService, d: &RealServer) -> Labels {
    let (addr, port, proto, mark) = service_labels(s);
    vec![
        ("local_address", addr),
        ("local_port", port),
        ("remote_address", d.address.to_string()),
        ("remote_port", d.port.to_string()),
        ("proto", proto),
        ("local_mark", mark),
    ]
}

/// The forwarding method as the JSON model and ipvsadm's options name it.
pub fn method_name(m: ForwardMethod) -> &'static str {
    match m {
        ForwardMethod::Masq => "masq",
        ForwardMethod::Tunnel => "tunnel",
        ForwardMethod::Route => "route",
    }
}

fn node_ipvs(w: &mut TextWriter, o: &Observed) {
    let t = o.totals();
    w.single(
        "node_ipvs_connections_total",
        "The total number of connections made.",
        Counter,
        t.conns,
    );
    w.single(
        "node_ipvs_incoming_packets_total",
        "The total number of incoming packets.",
        Counter,
        t.inpkts,
    );
    w.single(
        "node_ipvs_outgoing_packets_total",
        "The total number of outgoing packets.",
        Counter,
        t.outpkts,
    );
    w.single(
        "node_ipvs_incoming_bytes_total",
        "The total amount of incoming data.",
        Counter,
        t.inbytes,
    );
    w.single(
        "node_ipvs_outgoing_bytes_total",
        "The total amount of outgoing data.",
        Counter,
        t.outbytes,
    );

    // Summed per label set, in order of first appearance.
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut rows: Vec<(Labels, [u64; 3])> = Vec::new();
    for s in &o.services {
        for d in &s.real_servers {
            let labels = backend_labels(s, d);
            let i = *index.entry(labels.clone()).or_insert_with(|| {
                rows.push((labels, [0; 3]));
                rows.len() - 1
            });
            let sums = &mut rows[i].1;
            sums[0] += u64::from(d.active_conns);
            sums[1] += u64::from(d.inactive_conns);
            sums[2] += u64::from(d.effective_weight);
        }
    }
    let column = |k: usize| -> Vec<Sample> {
        rows.iter()
            .map(|(l, v)| Sample::new(l.clone(), v[k]))
            .collect()
    };
    w.family(
        "node_ipvs_backend_connections_active",
        "The current active connections by local and remote address.",
        Gauge,
        &column(0),
    );
    w.family(
        "node_ipvs_backend_connections_inactive",
        "The current inactive connections by local and remote address.",
        Gauge,
        &column(1),
    );
    w.family(
        "node_ipvs_backend_weight",
        "The current backend weight by local and remote address.",
        Gauge,
        &column(2),
    );
}

fn build(w: &mut TextWriter, o: &Observed) {
    let b = &o.director.build;
    w.family(
        "rvs_build_info",
        "The rvsd build: version, git commit and compiler (always 1).",
        Gauge,
        &[Sample::new(
            vec![
                ("version", b.version.clone()),
                ("commit", b.commit.clone()),
                ("rustc", b.rustc.clone()),
            ],
            1u64,
        )],
    );
    w.single(
        "rvs_uptime_seconds",
        "Seconds since rvsd started.",
        Gauge,
        o.director.uptime_secs,
    );
}

/// The five IPVS counters of each row, as `<prefix>_<counter>_total` families.
fn totals_families<'a>(
    w: &mut TextWriter,
    prefix: &str,
    what: &str,
    rows: impl Iterator<Item = (Labels, &'a Totals)> + Clone,
) {
    type Get = fn(&Totals) -> u64;
    let fams: [(&str, &str, Get); 5] = [
        ("connections", "Connections scheduled", |t| t.conns),
        ("incoming_packets", "Packets from clients", |t| t.inpkts),
        ("outgoing_packets", "Packets to clients", |t| t.outpkts),
        ("incoming_bytes", "Bytes from clients", |t| t.inbytes),
        ("outgoing_bytes", "Bytes to clients", |t| t.outbytes),
    ];
    for (suffix, help, get) in fams {
        let samples: Vec<Sample> = rows.clone().map(|(l, t)| Sample::new(l, get(t))).collect();
        w.family(
            &format!("{prefix}_{suffix}_total"),
            &format!("{help} {what}."),
            Counter,
            &samples,
        );
    }
}

fn services(w: &mut TextWriter, o: &Observed) {
    let info: Vec<Sample> = o
        .services
        .iter()
        .map(|s| {
            let mut l = virtual_labels(s);
            l.push(("scheduler", s.scheduler.name().to_string()));
            l.push((
                "persistence_seconds",
                s.persistence_secs
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            ));
            Sample::new(l, 1u64)
        })
        .collect();
    w.family(
        "rvs_virtual_service_info",
        "A virtual service with its scheduler and persistence timeout (always 1).",
        Gauge,
        &info,
    );
    totals_families(
        w,
        "rvs_virtual_service",
        "by the virtual service",
        o.services.iter().map(|s| (virtual_labels(s), &s.stats)),
    );
}

fn real_servers(w: &mut TextWriter, o: &Observed) {
    let each = || {
        o.services
            .iter()
            .flat_map(|s| s.real_servers.iter().map(move |d| (s, d)))
    };
    totals_families(
        w,
        "rvs_real_server",
        "by the real server of a virtual service",
        each().map(|(s, d)| (backend_labels(s, d), &d.stats)),
    );
    let info: Vec<Sample> = each()
        .map(|(s, d)| {
            let mut l = backend_labels(s, d);
            l.push(("method", method_name(d.method).to_string()));
            Sample::new(l, 1u64)
        })
        .collect();
    w.family(
        "rvs_real_server_info",
        "A real server with its forwarding method: masq, tunnel or route (always 1).",
        Gauge,
        &info,
    );
    let weight: Vec<Sample> = each()
        .map(|(s, d)| Sample::new(backend_labels(s, d), d.weight))
        .collect();
    w.family(
        "rvs_real_server_configured_weight",
        "The weight configured for the real server (the effective one is node_ipvs_backend_weight).",
        Gauge,
        &weight,
    );
    let persist: Vec<Sample> = each()
        .map(|(s, d)| Sample::new(backend_labels(s, d), d.persist_conns))
        .collect();
    w.family(
        "rvs_real_server_persistent_connections",
        "Persistence templates that point at the real server.",
        Gauge,
        &persist,
    );
}

fn health(w: &mut TextWriter, o: &Observed) {
    let checked: Vec<_> = o
        .services
        .iter()
        .flat_map(|s| s.real_servers.iter().map(move |d| (s, d)))
        .filter_map(|(s, d)| d.health.as_ref().map(|h| (backend_labels(s, d), h)))
        .collect();
    let up: Vec<Sample> = checked
        .iter()
        .filter_map(|(l, h)| match h.state {
            HealthState::Up => Some(Sample::new(l.clone(), 1u64)),
            HealthState::Down => Some(Sample::new(l.clone(), 0u64)),
            HealthState::Unknown => None,
        })
        .collect();
    w.family(
        "rvs_real_server_health_up",
        "Whether the health checks hold the real server up (1) or down (0); absent before the first check.",
        Gauge,
        &up,
    );
    let runs: Vec<Sample> = checked
        .iter()
        .map(|(l, h)| Sample::new(l.clone(), h.checks_run))
        .collect();
    w.family(
        "rvs_real_server_health_checks_total",
        "Health checks completed against the real server.",
        Counter,
        &runs,
    );
    let last: Vec<_> = checked
        .iter()
        .filter_map(|(l, h)| h.last.as_ref().map(|r| (l, r)))
        .collect();
    let ok: Vec<Sample> = last
        .iter()
        .map(|(l, r)| Sample::new((*l).clone(), r.ok))
        .collect();
    w.family(
        "rvs_real_server_health_check_success",
        "Whether the last health check of the real server passed.",
        Gauge,
        &ok,
    );
    let latency: Vec<Sample> = last
        .iter()
        .map(|(l, r)| Sample::new((*l).clone(), r.latency_secs))
        .collect();
    w.family(
        "rvs_real_server_health_check_latency_seconds",
        "How long the last health check of the real server took.",
        Gauge,
        &latency,
    );
}

fn drops(w: &mut TextWriter, o: &Observed) {
    let samples: Vec<Sample> = o
        .drops
        .iter()
        .map(|d| Sample::new(vec![("reason", d.reason.clone())], d.count))
        .collect();
    w.family(
        "rvs_drops_total",
        "Frames the director dropped, by reason.",
        Counter,
        &samples,
    );
}

fn tables(w: &mut TextWriter, o: &Observed) {
    let mut entries = Vec::new();
    for wk in &o.workers {
        let i = wk.index.to_string();
        entries.push(Sample::new(
            vec![("worker", i.clone()), ("kind", "connection".into())],
            wk.connections,
        ));
        entries.push(Sample::new(
            vec![("worker", i), ("kind", "template".into())],
            wk.templates,
        ));
    }
    w.family(
        "rvs_connection_table_entries",
        "Entries in a worker's connection table: connections and persistence templates.",
        Gauge,
        &entries,
    );
    let bytes: Vec<Sample> = o
        .workers
        .iter()
        .map(|wk| Sample::new(vec![("worker", wk.index.to_string())], wk.table_bytes))
        .collect();
    w.family(
        "rvs_connection_table_bytes",
        "Memory a worker's connection table holds.",
        Gauge,
        &bytes,
    );
    w.single(
        "rvs_connection_table_buckets",
        "Hash buckets of each worker's connection table.",
        Gauge,
        o.director.conn_table_size,
    );
}

fn workers(w: &mut TextWriter, o: &Observed) {
    type Get = fn(&crate::model::Worker) -> u64;
    let fams: [(&str, &str, Get); 11] = [
        (
            "rvs_worker_received_frames_total",
            "Frames a worker received.",
            |w| w.rx_frames,
        ),
        (
            "rvs_worker_transmitted_frames_total",
            "Frames a worker queued for transmission.",
            |w| w.tx_frames,
        ),
        (
            "rvs_worker_batches_total",
            "Receive rounds that found frames; received frames over batches is the mean batch size.",
            |w| w.batches,
        ),
        (
            "rvs_worker_tx_ring_full_total",
            "Frames dropped because a transmit ring stayed full.",
            |w| w.tx_ring_full,
        ),
        (
            "rvs_worker_truncated_frames_total",
            "Frames the receive ring cut short.",
            |w| w.truncated,
        ),
        (
            "rvs_worker_neighbour_waits_total",
            "Frames that waited for a next hop's MAC address.",
            |w| w.neighbour_wait,
        ),
        (
            "rvs_worker_neighbour_timeouts_total",
            "Frames dropped because a next hop's MAC address did not resolve in time.",
            |w| w.neighbour_timeout,
        ),
        (
            "rvs_worker_polls_total",
            "Times a worker blocked in poll(2) for want of traffic.",
            |w| w.polls,
        ),
        (
            "rvs_worker_icmp_sent_total",
            "ICMP errors the director generated.",
            |w| w.icmp_sent,
        ),
        (
            "rvs_worker_checksums_completed_total",
            "Partial checksums completed in user space.",
            |w| w.csum_completed,
        ),
        (
            "rvs_worker_dropped_frames_total",
            "Frames a worker dropped, for any reason (see rvs_drops_total).",
            |w| w.dropped,
        ),
    ];
    for (name, help, get) in fams {
        let samples: Vec<Sample> = o
            .workers
            .iter()
            .map(|wk| Sample::new(vec![("worker", wk.index.to_string())], get(wk)))
            .collect();
        w.family(name, help, Counter, &samples);
    }
    let mut verdicts = Vec::new();
    for wk in &o.workers {
        for (v, n) in [
            ("forwarded", wk.forwarded),
            ("replied", wk.replied),
            ("passed", wk.passed),
            ("dropped", wk.dropped),
        ] {
            verdicts.push(Sample::new(
                vec![("worker", wk.index.to_string()), ("verdict", v.into())],
                n,
            ));
        }
    }
    w.family(
        "rvs_worker_verdicts_total",
        "Frames by the director's verdict: forwarded, replied (ARP, ICMP), passed to the host, dropped.",
        Counter,
        &verdicts,
    );
}

fn vrrp(w: &mut TextWriter, o: &Observed) {
    let Some(instances) = &o.vrrp else {
        return;
    };
    let labels = |i: &crate::model::VrrpInstance| -> Labels {
        vec![
            ("instance", i.name.clone()),
            ("interface", i.interface.clone()),
            ("vrid", i.vrid.to_string()),
        ]
    };
    let mut state = Vec::new();
    for i in instances {
        for s in VrrpState::ALL {
            let mut l = labels(i);
            l.push(("state", s.as_str().to_string()));
            state.push(Sample::new(l, i.state == s));
        }
    }
    w.family(
        "rvs_vrrp_state",
        "The VRRP state of an instance: 1 for the state it is in, 0 for the others.",
        Gauge,
        &state,
    );
    let each = |get: fn(&crate::model::VrrpInstance) -> u64| -> Vec<Sample> {
        instances
            .iter()
            .map(|i| Sample::new(labels(i), get(i)))
            .collect()
    };
    w.family(
        "rvs_vrrp_priority",
        "The priority an instance advertises.",
        Gauge,
        &each(|i| i.priority.into()),
    );
    w.family(
        "rvs_vrrp_adverts_sent_total",
        "VRRP advertisements an instance sent.",
        Counter,
        &each(|i| i.adverts_sent),
    );
    w.family(
        "rvs_vrrp_adverts_received_total",
        "VRRP advertisements an instance received.",
        Counter,
        &each(|i| i.adverts_received),
    );
    w.family(
        "rvs_vrrp_adverts_dropped_total",
        "VRRP packets an instance dropped: adverts refused (version, interval, authentication, peer) or malformed.",
        Counter,
        &each(|i| i.adverts_dropped),
    );
    w.family(
        "rvs_vrrp_became_master_total",
        "Times an instance became master.",
        Counter,
        &each(|i| i.became_master),
    );
}

fn sync(w: &mut TextWriter, o: &Observed) {
    let reporting: Vec<_> = o
        .sync
        .iter()
        .filter_map(|d| {
            d.counters.as_ref().map(|c| {
                let l: Labels = vec![
                    ("role", d.role.as_str().to_string()),
                    ("syncid", d.syncid.to_string()),
                ];
                (l, c)
            })
        })
        .collect();
    type Get = fn(&crate::model::SyncCounters) -> u64;
    let fams: [(&str, &str, Get); 5] = [
        (
            "rvs_sync_messages_sent_total",
            "Connection sync messages sent.",
            |c| c.messages_sent,
        ),
        (
            "rvs_sync_messages_received_total",
            "Connection sync messages received.",
            |c| c.messages_received,
        ),
        (
            "rvs_sync_messages_rejected_total",
            "Connection sync messages refused: malformed, another sync id, failed authentication.",
            |c| c.messages_rejected,
        ),
        (
            "rvs_sync_connections_sent_total",
            "Connections sent in sync messages.",
            |c| c.conns_sent,
        ),
        (
            "rvs_sync_connections_received_total",
            "Connections received in sync messages.",
            |c| c.conns_received,
        ),
    ];
    for (name, help, get) in fams {
        let samples: Vec<Sample> = reporting
            .iter()
            .map(|(l, c)| Sample::new(l.clone(), get(c)))
            .collect();
        w.family(name, help, Counter, &samples);
    }
    let lag: Vec<Sample> = reporting
        .iter()
        .filter_map(|(l, c)| c.lag_secs.map(|s| Sample::new(l.clone(), s)))
        .collect();
    w.family(
        "rvs_sync_lag_seconds",
        "How far a backup's synchronised connections are behind the master.",
        Gauge,
        &lag,
    );
}
