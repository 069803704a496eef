//! Parsers for the value syntaxes the three formats share: bounded decimal
//! numbers, timers in (fractional) seconds, booleans, addresses, ports,
//! netmasks and keepalived's free-form hex strings. Each returns the reason
//! text of an error; the caller adds the position.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use rvs_core::Family;

use crate::model::HexPattern;

/// Largest timer accepted (keepalived's limit is far above any sane value).
pub const MAX_TIMER_SECS: u64 = u32::MAX as u64;

/// A decimal number in `min..=max`.
pub fn uint(what: &str, text: &str, min: u64, max: u64) -> Result<u64, String> {
    let digits_ok = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let value = if digits_ok {
        text.parse::<u64>().ok()
    } else {
        None
    };
    match value {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(_) => Err(format!("{what} must be {min}..{max}, got {text}")),
        None if digits_ok => Err(format!("{what} must be {min}..{max}, got {text}")),
        None => Err(format!(
            "{what} must be a number {min}..{max}, got '{text}'"
        )),
    }
}

pub fn u32_in(what: &str, text: &str, min: u32, max: u32) -> Result<u32, String> {
    uint(what, text, min as u64, max as u64).map(|v| v as u32)
}

/// A signed decimal number in `min..=max`.
pub fn int(what: &str, text: &str, min: i64, max: i64) -> Result<i64, String> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let value = if ok {
        digits.parse::<i64>().ok().map(|v| if neg { -v } else { v })
    } else {
        None
    };
    match value {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        _ if ok => Err(format!("{what} must be {min}..{max}, got {text}")),
        _ => Err(format!(
            "{what} must be a number {min}..{max}, got '{text}'"
        )),
    }
}

/// Seconds with up to six decimals (keepalived timers have microsecond
/// resolution): "3", "0.5", "2.71828".
pub fn timer(what: &str, text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let bad = || format!("{what} must be a time in seconds (e.g. 3 or 0.5), got '{text}'");
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
        || (text.contains('.') && frac_part.is_empty() && int_part.is_empty())
    {
        return Err(bad());
    }
    if frac_part.len() > 6 {
        return Err(format!(
            "{what} has more than 6 decimals (microsecond resolution), got '{text}'"
        ));
    }
    let secs: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| bad())?
    };
    if secs > MAX_TIMER_SECS {
        return Err(format!(
            "{what} must be at most {MAX_TIMER_SECS} seconds, got {text}"
        ));
    }
    let mut micros: u32 = 0;
    for (i, b) in frac_part.bytes().enumerate() {
        micros += u32::from(b - b'0') * 10u32.pow(5 - i as u32);
    }
    let d = Duration::from_secs(secs) + Duration::from_micros(micros as u64);
    if d < min || d > max {
        return Err(format!(
            "{what} must be {}..{} seconds, got {text}",
            fmt_secs(min),
            fmt_secs(max)
        ));
    }
    Ok(d)
}

/// "1", "0.5" — how a duration is written back in messages.
pub fn fmt_secs(d: Duration) -> String {
    if d.subsec_micros() == 0 {
        d.as_secs().to_string()
    } else {
        let s = format!("{}.{:06}", d.as_secs(), d.subsec_micros());
        s.trim_end_matches('0').to_string()
    }
}

/// keepalived's `<BOOL>`: on, off, true, false, yes or no.
pub fn boolean(what: &str, text: &str) -> Result<bool, String> {
    match text {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!(
            "{what} must be one of on, off, true, false, yes, no; got '{text}'"
        )),
    }
}

/// A numeric IPv4 or IPv6 address (no host names: the director must not
/// depend on name resolution to load its configuration).
pub fn ip(what: &str, text: &str) -> Result<IpAddr, String> {
    text.parse::<IpAddr>().map_err(|_| {
        format!(
            "{what} must be an IPv4 or IPv6 address, got '{text}' (host names are not resolved)"
        )
    })
}

/// A port number 1..65535, or 0 when `allow_zero` (keepalived's "no port").
pub fn port(what: &str, text: &str, allow_zero: bool) -> Result<u16, String> {
    let min = if allow_zero { 0 } else { 1 };
    uint(what, text, min, 65535).map(|v| v as u16)
}

/// A contiguous IPv4 netmask ("255.255.255.0") as a prefix length.
pub fn netmask_v4(what: &str, text: &str) -> Result<u8, String> {
    let mask: Ipv4Addr = text
        .parse()
        .map_err(|_| format!("{what} must be a dotted IPv4 netmask, got '{text}'"))?;
    let bits = u32::from(mask);
    let len = bits.leading_ones();
    if bits.checked_shl(len).unwrap_or(0) != 0 {
        return Err(format!(
            "{what} must be a contiguous netmask (like 255.255.255.0), got '{text}'"
        ));
    }
    Ok(len as u8)
}

/// A prefix length for `family`.
pub fn prefix_len(what: &str, text: &str, family: Family) -> Result<u8, String> {
    let max = match family {
        Family::V4 => 32,
        Family::V6 => 128,
    };
    uint(what, text, 0, max).map(|v| v as u8)
}

/// `ADDR[/PREFIX]`: an address and its prefix length (default: host route).
pub fn addr_prefix(what: &str, text: &str) -> Result<(IpAddr, u8), String> {
    let (a, p) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr = ip(what, a)?;
    let family = Family::of(&addr);
    let len = match p {
        Some(p) => prefix_len(&format!("{what} prefix length"), p, family)?,
        None => match family {
            Family::V4 => 32,
            Family::V6 => 128,
        },
    };
    Ok((addr, len))
}

/// keepalived's hex strings: whitespace separates groups, each group is read
/// two digits per byte and an odd last digit is a byte of its own
/// ("Ab12f 3" = AB 12 0F 03). With `wildcards`, X/x ignores that nibble.
pub fn hex_string(what: &str, text: &str, wildcards: bool) -> Result<HexPattern, String> {
    let bad = |c: char| format!("{what}: '{c}' is not a hex digit in '{text}'");
    let nibble = |c: char| -> Result<Option<u8>, String> {
        if let Some(v) = c.to_digit(16) {
            return Ok(Some(v as u8));
        }
        if wildcards && (c == 'x' || c == 'X') {
            return Ok(None);
        }
        Err(bad(c))
    };
    let mut bytes = Vec::new();
    let mut mask = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' || chars[i] == '\t' {
            i += 1;
            continue;
        }
        let hi = nibble(chars[i])?;
        i += 1;
        let (value, ignore) = if i < chars.len() && chars[i] != ' ' && chars[i] != '\t' {
            let lo = nibble(chars[i])?;
            i += 1;
            (
                (hi.unwrap_or(0) << 4) | lo.unwrap_or(0),
                (if hi.is_none() { 0xf0 } else { 0 }) | (if lo.is_none() { 0x0f } else { 0 }),
            )
        } else {
            (hi.unwrap_or(0), if hi.is_none() { 0x0f } else { 0 })
        };
        bytes.push(value);
        mask.push(ignore);
    }
    if bytes.is_empty() {
        return Err(format!("{what} needs at least one hex byte"));
    }
    if mask.iter().all(|&m| m == 0) {
        mask.clear();
    }
    Ok(HexPattern {
        bytes,
        ignore_mask: mask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_bounded_with_clear_reasons() {
        assert_eq!(uint("weight", "70", 0, 65535), Ok(70));
        assert_eq!(
            uint("weight", "70000", 0, 65535),
            Err("weight must be 0..65535, got 70000".to_string())
        );
        assert_eq!(
            uint("weight", "-1", 0, 65535),
            Err("weight must be a number 0..65535, got '-1'".to_string())
        );
        assert!(uint("weight", "99999999999999999999999", 0, 65535).is_err());
        assert_eq!(int("weight", "-253", -253, 253), Ok(-253));
        assert!(int("weight", "-254", -253, 253).is_err());
        assert!(int("weight", "-", -253, 253).is_err());
    }

    #[test]
    fn timers_take_fractions() {
        let max = Duration::from_secs(MAX_TIMER_SECS);
        assert_eq!(
            timer("t", "3", Duration::ZERO, max),
            Ok(Duration::from_secs(3))
        );
        assert_eq!(
            timer("t", "2.71828", Duration::ZERO, max),
            Ok(Duration::from_micros(2_718_280))
        );
        assert_eq!(
            timer("t", ".5", Duration::ZERO, max),
            Ok(Duration::from_millis(500))
        );
        assert!(timer("t", "1.2345678", Duration::ZERO, max).is_err());
        assert!(timer("t", "abc", Duration::ZERO, max).is_err());
        assert!(timer("t", ".", Duration::ZERO, max).is_err());
        assert!(timer("t", "", Duration::ZERO, max).is_err());
        assert!(timer("t", "0", Duration::from_micros(1), max).is_err());
        assert_eq!(fmt_secs(Duration::from_millis(1500)), "1.5");
    }

    #[test]
    fn netmasks_must_be_contiguous() {
        assert_eq!(netmask_v4("m", "255.255.255.0"), Ok(24));
        assert_eq!(netmask_v4("m", "255.255.255.255"), Ok(32));
        assert_eq!(netmask_v4("m", "0.0.0.0"), Ok(0));
        assert!(netmask_v4("m", "255.0.255.0").is_err());
    }

    #[test]
    fn hex_strings_follow_keepalived_grouping() {
        let p = hex_string("payload", "Ab12f 3 456 546443123", false).unwrap();
        assert_eq!(
            p.bytes,
            vec![0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03]
        );
        assert!(p.ignore_mask.is_empty());
        let p = hex_string("reply", "0aX1 x", true).unwrap();
        assert_eq!(p.bytes, vec![0x0a, 0x01, 0x00]);
        assert_eq!(p.ignore_mask, vec![0x00, 0xf0, 0x0f]);
        assert!(hex_string("payload", "0aX1", false).is_err());
        assert!(hex_string("payload", "  ", false).is_err());
    }
}
