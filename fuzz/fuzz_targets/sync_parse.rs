//! IPVS sync messages from the network: parse (and, when valid, rebuild) any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs_sync::message::fuzz_parse(data);
    let mut r = rvs_sync::Receiver::new(0, None);
    let mut out = Vec::new();
    let _ = r.receive(data, &mut out);
});
