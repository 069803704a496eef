//! Every wire parser on arbitrary bytes: none may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = rvs_wire::ip::parse_frame(data) {
        if let Some(ip) = f.ip {
            if rvs_wire::icmp::is_icmp_error(&ip) {
                let _ = rvs_wire::icmp::parse_icmp_inner(data, &ip);
            }
            let _ = rvs_wire::ndp::parse_neighbor_solicitation(data, &ip);
        }
        let _ = rvs_wire::arp::parse_arp(data, f.ether.l3_offset);
    }
    let _ = rvs_wire::encap::decap_inner(data);
});
