//! The status page (`/`) and its JSON (`/status.json`): every virtual service and real
//! server with forwarding method, configured and effective weight, health, last check,
//! connections and rates, the director's VRRP state and sync status, the workers and
//! the drops, in the spirit of HAProxy's stats page.
//!
//! The page is rendered complete on the server (it reads fine without JavaScript and
//! falls back to a meta refresh). A small script (`/status.js`, no external assets)
//! then fetches `/status.json` every two seconds and rewrites each cell marked with a
//! `data-f` path into the JSON, formatting it as `data-fmt` says; when services or
//! real servers come or go it reloads the page. `data-updates` on `<main>` counts the
//! refreshes applied (tests read it from the DOM). The page is read-only: it has no form
//! and the server takes no other method than GET and HEAD.

use std::fmt::Write as _;

use rvs_core::stats::{Rates, Totals};
use serde::Serialize;

use crate::model::{Observed, VirtualService};

/// Seconds between two refreshes of the page's figures.
pub const REFRESH_SECS: u32 = 2;

/// What `/status.json` serves: the observation plus director-wide sums the page shows.
#[derive(Serialize)]
struct StatusJson<'a> {
    #[serde(flatten)]
    observed: &'a Observed,
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    stats: Totals,
    rates: Rates,
    connections: u64,
    templates: u64,
    table_bytes: u64,
    dropped: u64,
    active_conns: u64,
    inactive_conns: u64,
}

fn summary(o: &Observed) -> Summary {
    let (connections, templates, table_bytes) = o.table_totals();
    let rs = o.services.iter().flat_map(|s| s.real_servers.iter());
    Summary {
        stats: o.totals(),
        rates: o.rates(),
        connections,
        templates,
        table_bytes,
        dropped: o.drops.iter().map(|d| d.count).sum(),
        active_conns: rs.clone().map(|d| u64::from(d.active_conns)).sum(),
        inactive_conns: rs.map(|d| u64::from(d.inactive_conns)).sum(),
    }
}

/// `/status.json`.
pub fn status_json(o: &Observed) -> String {
    serde_json::to_string(&StatusJson {
        observed: o,
        summary: summary(o),
    })
    // Plain data (strings, numbers, options): serialising it cannot fail.
    .unwrap_or_else(|_| "{}".to_string())
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One decimal, rounded half up, as the script's `Math.round(v * 10) / 10` does.
fn one_decimal(v: f64) -> String {
    format!("{:.1}", (v * 10.0).round() / 10.0)
}

/// Bytes in SI units: "512 B", "1.5 kB", "20.9 MB" (the script formats alike).
pub fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 999.95 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    format!("{} {}", one_decimal(v), UNITS[u])
}

/// How a cell's value is shown; the script has the same formats by these names.
#[derive(Clone, Copy)]
enum Fmt {
    /// A plain number.
    N,
    /// Bytes, scaled.
    Bytes,
    /// Bytes per second, scaled.
    Rate,
    /// Seconds shown as milliseconds.
    Ms,
    /// Seconds ago.
    Age,
    /// Text as it is.
    Text,
}

impl Fmt {
    fn name(self) -> &'static str {
        match self {
            Fmt::N => "n",
            Fmt::Bytes => "bytes",
            Fmt::Rate => "rate",
            Fmt::Ms => "ms",
            Fmt::Age => "age",
            Fmt::Text => "text",
        }
    }
}

/// A value of the model, for a cell.
enum V<'a> {
    U(u64),
    F(f64),
    S(&'a str),
    None,
}

fn show(v: &V, f: Fmt) -> String {
    match (v, f) {
        (V::None, _) => "\u{2014}".to_string(),
        (V::U(n), Fmt::Bytes) => fmt_bytes(*n),
        (V::U(n), Fmt::Rate) => format!("{}/s", fmt_bytes(*n)),
        (V::U(n), _) => n.to_string(),
        (V::F(x), Fmt::Ms) => format!("{} ms", one_decimal(x * 1000.0)),
        (V::F(x), Fmt::Age) => format!("{} s ago", x.max(0.0).floor() as u64),
        (V::F(x), _) => x.to_string(),
        (V::S(s), _) => s.to_string(),
    }
}

/// A table cell the script keeps up to date.
fn cell(out: &mut String, path: &str, v: V, f: Fmt) {
    let _ = write!(
        out,
        "<td data-f=\"{}\" data-fmt=\"{}\">{}</td>",
        esc(path),
        f.name(),
        esc(&show(&v, f))
    );
}

/// The shape of the page: when it changes the script reloads instead of patching.
/// The script computes the same string from the JSON.
pub fn signature(o: &Observed) -> String {
    let services: Vec<String> = o
        .services
        .iter()
        .map(|s| {
            let rs: Vec<String> = s
                .real_servers
                .iter()
                .map(|d| {
                    format!(
                        "{} {}{}",
                        d.address,
                        d.port,
                        if d.health.is_some() { " h" } else { "" }
                    )
                })
                .collect();
            format!(
                "{} {} {} {}:{}",
                s.proto.as_str(),
                s.address.map(|a| a.to_string()).unwrap_or_default(),
                s.port,
                s.fwmark.map(|m| m.to_string()).unwrap_or_default(),
                rs.join(",")
            )
        })
        .collect();
    let vrrp = match &o.vrrp {
        Some(v) => v
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(","),
        None => "-".to_string(),
    };
    let sync: Vec<String> = o
        .sync
        .iter()
        .map(|d| format!("{}{}", d.role.as_str(), d.syncid))
        .collect();
    format!(
        "{}|vrrp:{}|sync:{}|workers:{}",
        services.join(";"),
        vrrp,
        sync.join(","),
        o.workers.len()
    )
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else {
        format!("{m}m {s}s")
    }
}

/// `/`: the whole page.
pub fn render(o: &Observed) -> String {
    let mut p = String::with_capacity(16 * 1024);
    let b = &o.director.build;
    let _ = write!(
        p,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>rvs director status</title>\
<link rel=\"stylesheet\" href=\"/status.css\">\
<noscript><meta http-equiv=\"refresh\" content=\"{}\"></noscript>\
<script src=\"/status.js\" defer></script></head>\n<body>\
<main id=\"status\" data-sig=\"{}\">\n\
<header><h1>rvs director</h1><p class=\"build\">rvsd {} \u{b7} commit {} \u{b7} {} \u{b7} \
up <span id=\"uptime\">{}</span> \u{b7} <span id=\"refresh\">live, every {} s</span></p></header>\n",
        REFRESH_SECS * 3,
        esc(&signature(o)),
        esc(&b.version),
        esc(&b.commit),
        esc(&b.rustc),
        uptime(o.director.uptime_secs),
        REFRESH_SECS,
    );
    summary_section(&mut p, o);
    director_section(&mut p, o);
    services_section(&mut p, o);
    workers_and_drops_section(&mut p, o);
    p.push_str("</main></body></html>\n");
    p
}

fn summary_section(p: &mut String, o: &Observed) {
    let s = summary(o);
    p.push_str(
        "<section><h2>Director</h2><table class=\"summary\"><thead><tr>\
<th>Conns</th><th>InPkts</th><th>OutPkts</th><th>InBytes</th><th>OutBytes</th>\
<th>CPS</th><th>InPPS</th><th>OutPPS</th><th>InBPS</th><th>OutBPS</th>\
<th>ActiveConn</th><th>InActConn</th><th>Table entries</th><th>Templates</th><th>Table memory</th><th>Dropped</th>\
</tr></thead><tbody><tr>",
    );
    for (path, v, f) in [
        ("summary.stats.conns", s.stats.conns, Fmt::N),
        ("summary.stats.inpkts", s.stats.inpkts, Fmt::N),
        ("summary.stats.outpkts", s.stats.outpkts, Fmt::N),
        ("summary.stats.inbytes", s.stats.inbytes, Fmt::Bytes),
        ("summary.stats.outbytes", s.stats.outbytes, Fmt::Bytes),
        ("summary.rates.cps", s.rates.cps, Fmt::N),
        ("summary.rates.inpps", s.rates.inpps, Fmt::N),
        ("summary.rates.outpps", s.rates.outpps, Fmt::N),
        ("summary.rates.inbps", s.rates.inbps, Fmt::Rate),
        ("summary.rates.outbps", s.rates.outbps, Fmt::Rate),
        ("summary.active_conns", s.active_conns, Fmt::N),
        ("summary.inactive_conns", s.inactive_conns, Fmt::N),
        ("summary.connections", s.connections, Fmt::N),
        ("summary.templates", s.templates, Fmt::N),
        ("summary.table_bytes", s.table_bytes, Fmt::Bytes),
        ("summary.dropped", s.dropped, Fmt::N),
    ] {
        cell(p, path, V::U(v), f);
    }
    p.push_str("</tr></tbody></table></section>\n");
}

fn director_section(p: &mut String, o: &Observed) {
    p.push_str("<section class=\"pair\"><div><h2>VRRP</h2>");
    match &o.vrrp {
        None => p.push_str(
            "<p class=\"none\" id=\"vrrp-none\">VRRP is not running on this director.</p>",
        ),
        Some(instances) if instances.is_empty() => {
            p.push_str("<p class=\"none\" id=\"vrrp-none\">No VRRP instance.</p>")
        }
        Some(instances) => {
            p.push_str(
                "<table class=\"vrrp\"><thead><tr><th>Instance</th><th>Interface</th><th>VRID</th>\
<th>State</th><th>Priority</th><th>Adverts out</th><th>Adverts in</th><th>Dropped</th><th>Became master</th></tr></thead><tbody>",
            );
            for (i, v) in instances.iter().enumerate() {
                let _ = write!(
                    p,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"state {}\" data-state=\"vrrp.{i}.state\">{}</td>",
                    esc(&v.name),
                    esc(&v.interface),
                    v.vrid,
                    v.state.as_str(),
                    v.state.as_str()
                );
                cell(
                    p,
                    &format!("vrrp.{i}.priority"),
                    V::U(v.priority.into()),
                    Fmt::N,
                );
                cell(
                    p,
                    &format!("vrrp.{i}.adverts_sent"),
                    V::U(v.adverts_sent),
                    Fmt::N,
                );
                cell(
                    p,
                    &format!("vrrp.{i}.adverts_received"),
                    V::U(v.adverts_received),
                    Fmt::N,
                );
                cell(
                    p,
                    &format!("vrrp.{i}.adverts_dropped"),
                    V::U(v.adverts_dropped),
                    Fmt::N,
                );
                cell(
                    p,
                    &format!("vrrp.{i}.became_master"),
                    V::U(v.became_master),
                    Fmt::N,
                );
                p.push_str("</tr>");
            }
            p.push_str("</tbody></table>");
        }
    }
    p.push_str("</div><div><h2>Connection sync</h2>");
    if o.sync.is_empty() {
        p.push_str("<p class=\"none\" id=\"sync-none\">No sync daemon is running.</p>");
    } else {
        p.push_str(
            "<table class=\"sync\"><thead><tr><th>Role</th><th>Sync ID</th><th>Interface</th><th>Group</th>\
<th>Msgs out</th><th>Msgs in</th><th>Rejected</th><th>Conns out</th><th>Conns in</th><th>Lag</th></tr></thead><tbody>",
        );
        for (i, d) in o.sync.iter().enumerate() {
            let group = match (d.group, d.port) {
                (Some(g), Some(port)) => crate::model::Endpoint(g, port).to_string(),
                (Some(g), None) => g.to_string(),
                _ => String::new(),
            };
            let _ = write!(
                p,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                d.role.as_str(),
                d.syncid,
                esc(&d.interface),
                esc(&group)
            );
            let c = d.counters.as_ref();
            let u = |f: fn(&crate::model::SyncCounters) -> u64| c.map_or(V::None, |c| V::U(f(c)));
            cell(
                p,
                &format!("sync.{i}.counters.messages_sent"),
                u(|c| c.messages_sent),
                Fmt::N,
            );
            cell(
                p,
                &format!("sync.{i}.counters.messages_received"),
                u(|c| c.messages_received),
                Fmt::N,
            );
            cell(
                p,
                &format!("sync.{i}.counters.messages_rejected"),
                u(|c| c.messages_rejected),
                Fmt::N,
            );
            cell(
                p,
                &format!("sync.{i}.counters.conns_sent"),
                u(|c| c.conns_sent),
                Fmt::N,
            );
            cell(
                p,
                &format!("sync.{i}.counters.conns_received"),
                u(|c| c.conns_received),
                Fmt::N,
            );
            let lag = c.and_then(|c| c.lag_secs).map_or(V::None, V::F);
            cell(p, &format!("sync.{i}.counters.lag_secs"), lag, Fmt::Ms);
            p.push_str("</tr>");
        }
        p.push_str("</tbody></table>");
    }
    p.push_str("</div></section>\n");
}

const SERVICE_COLUMNS: &str = "<th>Forward</th><th>Weight</th><th>Effective</th><th>Health</th>\
<th>Last check</th><th>Checked</th><th>Latency</th><th>ActiveConn</th><th>InActConn</th><th>PersistConn</th>\
<th>CPS</th><th>InPPS</th><th>OutPPS</th><th>InBPS</th><th>OutBPS</th><th>Conns</th><th>InBytes</th><th>OutBytes</th>";

fn services_section(p: &mut String, o: &Observed) {
    p.push_str("<section><h2>Virtual services</h2>");
    if o.services.is_empty() {
        p.push_str("<p class=\"none\" id=\"services-none\">No virtual service is configured.</p></section>\n");
        return;
    }
    let _ = write!(
        p,
        "<table class=\"services\"><thead><tr><th>Virtual service / real server</th>{SERVICE_COLUMNS}</tr></thead>"
    );
    for (i, s) in o.services.iter().enumerate() {
        service_rows(p, i, s);
    }
    p.push_str("</table></section>\n");
}

fn service_rows(p: &mut String, i: usize, s: &VirtualService) {
    let mut flags = format!("{}", s.scheduler);
    if let Some(t) = s.persistence_secs {
        let _ = write!(flags, ", persistent {t} s");
    }
    let _ = write!(
        p,
        "<tbody class=\"service\" data-service=\"{}\"><tr class=\"vs\"><th scope=\"row\">{} <span class=\"sched\">{}</span></th>\
<td></td><td></td><td></td><td></td><td></td><td></td><td></td>",
        esc(&s.name()),
        esc(&s.name()),
        esc(&flags)
    );
    let active: u64 = s
        .real_servers
        .iter()
        .map(|d| u64::from(d.active_conns))
        .sum();
    let inactive: u64 = s
        .real_servers
        .iter()
        .map(|d| u64::from(d.inactive_conns))
        .sum();
    let persist: u64 = s
        .real_servers
        .iter()
        .map(|d| u64::from(d.persist_conns))
        .sum();
    // Service rows show sums the script cannot path into: kept as rendered, refreshed on reload.
    let _ = write!(
        p,
        "<td class=\"sum\">{active}</td><td class=\"sum\">{inactive}</td><td class=\"sum\">{persist}</td>"
    );
    let base = format!("services.{i}");
    counter_cells(p, &base, &s.stats, &s.rates);
    p.push_str("</tr>");
    for (j, d) in s.real_servers.iter().enumerate() {
        let path = format!("{base}.real_servers.{j}");
        let state = d.health.as_ref().map(|h| h.state.as_str());
        let _ = write!(
            p,
            "<tr class=\"rs {}\" data-health=\"{path}.health.state\"><th scope=\"row\">\u{2192} {}</th><td class=\"method\">{}</td>",
            state.unwrap_or("unchecked"),
            esc(&crate::model::Endpoint(d.address, d.port).to_string()),
            d.method.ipvs_name()
        );
        cell(p, &format!("{path}.weight"), V::U(d.weight.into()), Fmt::N);
        cell(
            p,
            &format!("{path}.effective_weight"),
            V::U(d.effective_weight.into()),
            Fmt::N,
        );
        let h = d.health.as_ref();
        let last = h.and_then(|h| h.last.as_ref());
        cell(
            p,
            &format!("{path}.health.state"),
            state.map_or(V::None, V::S),
            Fmt::Text,
        );
        cell(
            p,
            &format!("{path}.health.last.detail"),
            last.map_or(V::None, |l| V::S(&l.detail)),
            Fmt::Text,
        );
        cell(
            p,
            &format!("{path}.health.last.age_secs"),
            last.map_or(V::None, |l| V::F(l.age_secs)),
            Fmt::Age,
        );
        cell(
            p,
            &format!("{path}.health.last.latency_secs"),
            last.map_or(V::None, |l| V::F(l.latency_secs)),
            Fmt::Ms,
        );
        cell(
            p,
            &format!("{path}.active_conns"),
            V::U(d.active_conns.into()),
            Fmt::N,
        );
        cell(
            p,
            &format!("{path}.inactive_conns"),
            V::U(d.inactive_conns.into()),
            Fmt::N,
        );
        cell(
            p,
            &format!("{path}.persist_conns"),
            V::U(d.persist_conns.into()),
            Fmt::N,
        );
        counter_cells(p, &path, &d.stats, &d.rates);
        p.push_str("</tr>");
    }
    p.push_str("</tbody>");
}

fn counter_cells(p: &mut String, base: &str, t: &Totals, r: &Rates) {
    cell(p, &format!("{base}.rates.cps"), V::U(r.cps), Fmt::N);
    cell(p, &format!("{base}.rates.inpps"), V::U(r.inpps), Fmt::N);
    cell(p, &format!("{base}.rates.outpps"), V::U(r.outpps), Fmt::N);
    cell(p, &format!("{base}.rates.inbps"), V::U(r.inbps), Fmt::Rate);
    cell(
        p,
        &format!("{base}.rates.outbps"),
        V::U(r.outbps),
        Fmt::Rate,
    );
    cell(p, &format!("{base}.stats.conns"), V::U(t.conns), Fmt::N);
    cell(
        p,
        &format!("{base}.stats.inbytes"),
        V::U(t.inbytes),
        Fmt::Bytes,
    );
    cell(
        p,
        &format!("{base}.stats.outbytes"),
        V::U(t.outbytes),
        Fmt::Bytes,
    );
}

fn workers_and_drops_section(p: &mut String, o: &Observed) {
    p.push_str(
        "<section><h2>Workers</h2><table class=\"workers\"><thead><tr><th>Worker</th>\
<th>RX frames</th><th>TX frames</th><th>Batches</th><th>Mean batch</th><th>Forwarded</th><th>Replied</th>\
<th>Passed</th><th>Dropped</th><th>TX ring full</th><th>Neighbour waits</th><th>Conns</th><th>Templates</th>\
<th>Table memory</th></tr></thead><tbody>",
    );
    for (i, w) in o.workers.iter().enumerate() {
        let _ = write!(p, "<tr><th scope=\"row\">{}</th>", w.index);
        let base = format!("workers.{i}");
        cell(p, &format!("{base}.rx_frames"), V::U(w.rx_frames), Fmt::N);
        cell(p, &format!("{base}.tx_frames"), V::U(w.tx_frames), Fmt::N);
        cell(p, &format!("{base}.batches"), V::U(w.batches), Fmt::N);
        let mean = if w.batches == 0 {
            "\u{2014}".to_string()
        } else {
            one_decimal(w.rx_frames as f64 / w.batches as f64)
        };
        let _ = write!(p, "<td data-mean=\"{base}\">{}</td>", esc(&mean));
        cell(p, &format!("{base}.forwarded"), V::U(w.forwarded), Fmt::N);
        cell(p, &format!("{base}.replied"), V::U(w.replied), Fmt::N);
        cell(p, &format!("{base}.passed"), V::U(w.passed), Fmt::N);
        cell(p, &format!("{base}.dropped"), V::U(w.dropped), Fmt::N);
        cell(
            p,
            &format!("{base}.tx_ring_full"),
            V::U(w.tx_ring_full),
            Fmt::N,
        );
        cell(
            p,
            &format!("{base}.neighbour_wait"),
            V::U(w.neighbour_wait),
            Fmt::N,
        );
        cell(
            p,
            &format!("{base}.connections"),
            V::U(w.connections),
            Fmt::N,
        );
        cell(p, &format!("{base}.templates"), V::U(w.templates), Fmt::N);
        cell(
            p,
            &format!("{base}.table_bytes"),
            V::U(w.table_bytes),
            Fmt::Bytes,
        );
        p.push_str("</tr>");
    }
    p.push_str("</tbody></table></section>\n<section><h2>Drops</h2>");
    // Every reason is in the JSON; the table lists those that happened (a new reason
    // appearing changes the list, and the script reloads for it).
    let any: Vec<(usize, &crate::model::DropCount)> = o
        .drops
        .iter()
        .enumerate()
        .filter(|(_, d)| d.count > 0)
        .collect();
    if any.is_empty() {
        p.push_str("<p class=\"none\" id=\"drops-none\">No frame dropped.</p>");
    } else {
        p.push_str(
            "<table class=\"drops narrow\"><thead><tr><th>Reason</th><th>Frames</th></tr></thead><tbody>",
        );
        for (i, d) in any {
            let _ = write!(p, "<tr><th scope=\"row\">{}</th>", esc(&d.reason));
            cell(p, &format!("drops.{i}.count"), V::U(d.count), Fmt::N);
            p.push_str("</tr>");
        }
        p.push_str("</tbody></table>");
    }
    p.push_str("</section>\n");
}

/// `/status.css`.
pub const STYLE: &str = r#"
:root { --fg:#1b1f23; --muted:#6a737d; --line:#d0d7de; --head:#f3f4f6; --vs:#e8eef6;
        --up:#1a7f37; --down:#cf222e; --unknown:#9a6700; }
* { box-sizing: border-box; }
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 1rem; }
h1 { font-size: 1.4rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
.build { color: var(--muted); margin: .2rem 0 0; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid var(--line); padding: 2px 5px; text-align: right; white-space: nowrap; }
thead th { background: var(--head); text-align: center; font-weight: 600; }
tbody th { text-align: left; font-weight: normal; }
tr.vs th, tr.vs td { background: var(--vs); font-weight: 600; }
.sched { color: var(--muted); font-weight: normal; }
tr.rs.up td[data-f$="health.state"] { color: var(--up); font-weight: 600; }
tr.rs.down td { background: #ffebe9; }
tr.rs.down td[data-f$="health.state"] { color: var(--down); font-weight: 700; }
tr.rs.unknown td[data-f$="health.state"] { color: var(--unknown); }
td.state { text-align: center; font-weight: 700; }
td.method, td[data-fmt="text"] { text-align: left; }
table.vrrp td:nth-child(-n+2), table.sync td:nth-child(-n+4) { text-align: left; }
table.narrow { width: auto; min-width: 20rem; }
td.state.MASTER { color: var(--up); } td.state.FAULT { color: var(--down); }
.none { color: var(--muted); font-style: italic; }
.pair { display: flex; gap: 2rem; flex-wrap: wrap; }
.pair > div { flex: 1 1 30rem; overflow-x: auto; }
section { overflow-x: auto; }
#refresh.stale { color: var(--down); font-weight: 700; }
"#;

/// `/status.js`: keeps the figures current from `/status.json`.
pub const SCRIPT: &str = r#""use strict";
(function () {
  const main = document.getElementById("status");
  if (!main) return;
  const dash = "\u2014";
  const get = (o, path) => path.split(".").reduce((v, k) => (v == null ? undefined : v[k]), o);
  const oneDecimal = (v) => (Math.round(v * 10) / 10).toFixed(1);
  const bytes = (n) => {
    const units = ["B", "kB", "MB", "GB", "TB", "PB"];
    if (n < 1000) return n + " B";
    let v = n, u = 0;
    while (v >= 999.95 && u < units.length - 1) { v /= 1000; u++; }
    return oneDecimal(v) + " " + units[u];
  };
  const fmt = {
    n: (v) => String(v),
    bytes: bytes,
    rate: (v) => bytes(v) + "/s",
    ms: (v) => oneDecimal(v * 1000) + " ms",
    age: (v) => Math.floor(Math.max(0, v)) + " s ago",
    text: (v) => String(v),
  };
  const signature = (o) => {
    const services = o.services.map((s) =>
      s.proto + " " + (s.address ?? "") + " " + s.port + " " + (s.fwmark ?? "") + ":" +
      s.real_servers.map((d) => d.address + " " + d.port + (d.health ? " h" : "")).join(","));
    const vrrp = o.vrrp ? o.vrrp.map((i) => i.name).join(",") : "-";
    const sync = o.sync.map((d) => d.role + d.syncid).join(",");
    return services.join(";") + "|vrrp:" + vrrp + "|sync:" + sync + "|workers:" + o.workers.length;
  };
  const uptime = (s) => {
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    if (d > 0) return d + "d " + h + "h " + m + "m";
    if (h > 0) return h + "h " + m + "m " + (s % 60) + "s";
    return m + "m " + (s % 60) + "s";
  };
  const nonZeroDrops = (o) => o.drops.filter((d) => d.count > 0).map((d) => d.reason).join(",");
  let drops = null;
  let updates = 0;
  const refresh = document.getElementById("refresh");
  async function tick() {
    try {
      const r = await fetch("/status.json", { cache: "no-store" });
      if (!r.ok) throw new Error(r.status);
      const o = await r.json();
      if (drops === null) drops = nonZeroDrops(o);
      if (signature(o) !== main.dataset.sig || nonZeroDrops(o) !== drops) {
        location.reload();
        return;
      }
      for (const td of main.querySelectorAll("[data-f]")) {
        const v = get(o, td.dataset.f);
        const text = v == null ? dash : (fmt[td.dataset.fmt] || fmt.text)(v);
        if (td.textContent !== text) td.textContent = text;
      }
      for (const tr of main.querySelectorAll("tr[data-health]")) {
        tr.className = "rs " + (get(o, tr.dataset.health) || "unchecked");
      }
      for (const td of main.querySelectorAll("[data-state]")) {
        const s = get(o, td.dataset.state) || dash;
        td.textContent = s;
        td.className = "state " + s;
      }
      for (const td of main.querySelectorAll("[data-mean]")) {
        const w = get(o, td.dataset.mean);
        td.textContent = w && w.batches > 0 ? oneDecimal(w.rx_frames / w.batches) : dash;
      }
      document.getElementById("uptime").textContent = uptime(o.director.uptime_secs);
      refresh.textContent = "live, every 2 s";
      refresh.className = "";
      main.dataset.updates = String(++updates);
    } catch (e) {
      refresh.textContent = "not updating: " + e.message;
      refresh.className = "stale";
    }
  }
  setInterval(tick, 2000);
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_scale_like_the_script() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(999), "999 B");
        assert_eq!(fmt_bytes(1000), "1.0 kB");
        assert_eq!(fmt_bytes(1550), "1.6 kB");
        assert_eq!(fmt_bytes(999_960), "1.0 MB");
        assert_eq!(fmt_bytes(20 * 1024 * 1024), "21.0 MB");
        assert_eq!(fmt_bytes(u64::MAX), "18446.7 PB");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn uptime_reads_well() {
        assert_eq!(uptime(59), "0m 59s");
        assert_eq!(uptime(3 * 3600 + 61), "3h 1m 1s");
        assert_eq!(uptime(2 * 86_400 + 3600), "2d 1h 0m");
    }
}
