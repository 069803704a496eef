//! Property: any table rvs can hold survives `-S -n` followed by `-R`
//! (rebuilt in ipvsadm's listing order, which is the order `-S` writes).

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use rvs_admin::config::MAX_TIMEOUT;
use rvs_admin::save::restore_into;
use rvs_admin::{
    render_save, Config, Names, SyncDaemonConfig, SyncState, Timeouts, VirtualService,
};
use rvs_core::{
    DestConfig, Family, ForwardMethod, Persistence, Protocol, SchedFlags, SchedulerKind,
    ServiceConfig, ServiceKey,
};

fn vip(v6: bool, low: u16) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, low))
    } else {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, low as u8))
    }
}

fn rip(v6: bool, low: u16) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, low.max(1)))
    } else {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, (low % 254 + 1) as u8))
    }
}

fn key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (any::<bool>(), any::<bool>(), any::<u8>(), any::<u16>()).prop_map(
            |(udp, v6, low, port)| {
                ServiceKey::Addr {
                    proto: if udp { Protocol::Udp } else { Protocol::Tcp },
                    addr: vip(v6, u16::from(low)),
                    port,
                }
            }
        ),
        (1u32.., any::<bool>()).prop_map(|(mark, v6)| ServiceKey::FwMark {
            mark,
            family: if v6 { Family::V6 } else { Family::V4 },
        }),
    ]
}

fn method(i: u8) -> ForwardMethod {
    [
        ForwardMethod::Masq,
        ForwardMethod::Tunnel,
        ForwardMethod::Route,
    ][usize::from(i % 3)]
}

prop_compose! {
    fn service()(
        key in key(),
        sched in 0usize..SchedulerKind::ALL.len(),
        flags in any::<(bool, bool, bool)>(),
        persistent in any::<bool>(),
        timeout in 1u32..=MAX_TIMEOUT,
        prefix in any::<u8>(),
        one_packet in any::<bool>(),
        raw_dests in proptest::collection::vec((any::<bool>(), any::<u16>(), any::<u8>(), any::<u16>(), 0u32..=65535, 0u32..=i32::MAX as u32, any::<u32>()), 0..5),
    ) -> VirtualService {
        let family = key.family();
        let (port_zero, udp_or_mark) = match key {
            ServiceKey::Addr { proto, port, .. } => (port == 0, proto == Protocol::Udp),
            ServiceKey::FwMark { .. } => (false, true),
        };
        let persistence = (persistent || port_zero).then(|| Persistence {
            timeout_secs: timeout,
            prefix_len: match family {
                Family::V4 => prefix % 33,
                Family::V6 => prefix % 128 + 1,
            },
        });
        let config = ServiceConfig {
            key,
            scheduler: SchedulerKind::ALL[sched],
            sched_flags: SchedFlags { fallback: flags.0, port: flags.1, flag3: flags.2 },
            persistence,
            one_packet: one_packet && udp_or_mark,
        };
        let mut seen = HashSet::new();
        let mut dests = Vec::new();
        for (other_family, low, m, port, weight, u, l) in raw_dests {
            let method = method(m);
            // Only tunnelling real servers may be of the other family.
            let v6 = (family == Family::V6) != (other_family && method == ForwardMethod::Tunnel);
            let port = match key {
                ServiceKey::Addr { port: svc_port, .. } if method != ForwardMethod::Masq => svc_port,
                _ => port,
            };
            let addr = rip(v6, low);
            if !seen.insert((addr, port)) {
                continue;
            }
            let l_threshold = if u == 0 { 0 } else { l % (u + 1) };
            dests.push(DestConfig { addr, port, method, weight, u_threshold: u, l_threshold });
        }
        VirtualService { config, dests }
    }
}

fn daemon(state: SyncState) -> impl Strategy<Value = SyncDaemonConfig> {
    (
        prop::sample::select(vec!["eth0", "eth1", "bond0", "vlan.100"]),
        any::<u8>(),
        proptest::option::of(1u16..=65507),
        proptest::option::of(prop_oneof![
            Just("224.0.0.81".parse::<IpAddr>().unwrap()),
            Just("239.1.2.3".parse::<IpAddr>().unwrap()),
            Just("ff02::81".parse::<IpAddr>().unwrap()),
        ]),
        proptest::option::of(1u16..),
        proptest::option::of(1u8..),
    )
        .prop_map(
            move |(ifn, syncid, sync_maxlen, mcast_group, mcast_port, mcast_ttl)| {
                SyncDaemonConfig {
                    state,
                    mcast_ifn: ifn.to_string(),
                    syncid,
                    sync_maxlen,
                    mcast_group,
                    mcast_port,
                    mcast_ttl,
                }
            },
        )
}

prop_compose! {
    fn config()(
        services in proptest::collection::vec(service(), 0..6),
        timeouts in proptest::option::of((1u32..=MAX_TIMEOUT, 1u32..=MAX_TIMEOUT, 1u32..=MAX_TIMEOUT)),
        master in proptest::option::of(daemon(SyncState::Master)),
        backup in proptest::option::of(daemon(SyncState::Backup)),
    ) -> Config {
        let mut keys = HashSet::new();
        let services = services.into_iter().filter(|s| keys.insert(s.config.key)).collect();
        Config {
            services,
            timeouts: timeouts.map_or_else(Timeouts::default, |(tcp, tcpfin, udp)| Timeouts { tcp, tcpfin, udp }),
            daemons: master.into_iter().chain(backup).collect(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn save_then_restore_rebuilds_the_table(config in config()) {
        let script = render_save(&config, None);
        let restored = restore_into(&Config::new(), &script, &Names::default());
        prop_assert_eq!(restored.as_ref(), Ok(&config.sorted()), "script:\n{}", script);
        // And saving the restored table gives the same script.
        prop_assert_eq!(render_save(restored.as_ref().unwrap(), None), script);
    }
}
