//! Configuration files (keepalived.conf, ldirectord.cf, lvs.cf) from any bytes: an
//! error with a location, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_config::Format;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for format in [Format::Keepalived, Format::Ldirectord, Format::Piranha] {
        if let Ok(cfg) = rvs_config::parse_str(&text, "fuzz.conf", format) {
            let _ = cfg.services();
            let _ = cfg.checks();
        }
    }
});
