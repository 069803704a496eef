//! "Parse + process any bytes": a director with NAT, tunnel and direct-routing
//! services (IPv4 and IPv6, persistent and not) takes a sequence of arbitrary frames
//! on arbitrary ports at advancing times. It must never panic; whatever it forwards
//! must lie inside the buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_core::fuzzing::fuzz_director;

fuzz_target!(|data: &[u8]| {
    fuzz_director(data);
});
