//! VRRP adverts from the network: parse any bytes as v2/v3 over IPv4 and IPv6.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs_vrrp::fuzz_parse(data);
});
