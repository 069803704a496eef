//! Text conversions with the C library's exact semantics, as ipvsadm sees them:
//! `inet_aton` (dotted quads with octal/hex parts and short forms), `strtol`-based
//! number parsing, `atoi`, and `inet_ntop`'s IPv6 spelling. Listing output and
//! accepted input must match ipvsadm byte for byte, so these do not use Rust's own
//! (stricter or differently formatted) parsers and printers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// C `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `inet_aton` as glibc implements it: `a.b.c.d`, `a.b.c` (c is 16 bits), `a.b`
/// (b is 24 bits) or `a` (32 bits); every part decimal, octal (leading `0`) or hex
/// (leading `0x`). Trailing whitespace and anything after it is ignored.
pub fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut parts: [u32; 3] = [0; 3];
    let mut nparts = 0;
    let mut seen_digit = false;
    let last: u64;
    loop {
        let first = *bytes.get(pos)?;
        if !first.is_ascii_digit() {
            return None;
        }
        let mut base = 10u64;
        if first == b'0' {
            pos += 1;
            if matches!(bytes.get(pos), Some(b'x') | Some(b'X')) {
                base = 16;
                pos += 1;
            } else {
                base = 8;
            }
            seen_digit = true;
        }
        let mut value: u64 = 0;
        while let Some(&c) = bytes.get(pos) {
            let digit = match c {
                b'0'..=b'9' => {
                    if base == 8 && c >= b'8' {
                        return None;
                    }
                    u64::from(c - b'0')
                }
                b'a'..=b'f' if base == 16 => u64::from(c - b'a' + 10),
                b'A'..=b'F' if base == 16 => u64::from(c - b'A' + 10),
                _ => break,
            };
            // Saturate instead of wrapping: anything this large is out of range anyway.
            value = value.saturating_mul(base).saturating_add(digit);
            seen_digit = true;
            pos += 1;
        }
        if bytes.get(pos) == Some(&b'.') {
            if nparts >= 3 || value > 0xff {
                return None;
            }
            parts[nparts] = value as u32;
            nparts += 1;
            pos += 1;
        } else {
            last = value;
            break;
        }
    }
    if let Some(&c) = bytes.get(pos) {
        if !is_c_space(c) {
            return None;
        }
    }
    if !seen_digit {
        return None;
    }
    let max: u64 = match nparts {
        0 => 0xffff_ffff,
        1 => 0xff_ffff,
        2 => 0xffff,
        _ => 0xff,
    };
    if last > max {
        return None;
    }
    let mut addr = last as u32;
    for (i, part) in parts.iter().take(nparts).enumerate() {
        addr |= part << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(addr))
}

/// `strtol(s, &end, 10)` that must consume the whole string: optional leading
/// whitespace, optional sign, at least one digit, nothing after. `None` on any
/// leftover character or overflow of a C `long`.
pub fn strtol_exact(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() && is_c_space(bytes[pos]) {
        pos += 1;
    }
    let mut negative = false;
    if let Some(&sign) = bytes.get(pos) {
        if sign == b'+' || sign == b'-' {
            negative = sign == b'-';
            pos += 1;
        }
    }
    let digits_start = pos;
    let mut value: i64 = 0;
    while let Some(&c) = bytes.get(pos) {
        if !c.is_ascii_digit() {
            break;
        }
        let d = i64::from(c - b'0');
        value = if negative {
            value.checked_mul(10)?.checked_sub(d)?
        } else {
            value.checked_mul(10)?.checked_add(d)?
        };
        pos += 1;
    }
    if pos == digits_start || pos != bytes.len() {
        return None;
    }
    Some(value)
}

/// ipvsadm's `string_to_number`: a whole-string decimal number within `min..=max`.
pub fn number_in(text: &str, min: i64, max: i64) -> Option<i64> {
    strtol_exact(text).filter(|n| (min..=max).contains(n))
}

/// C `atoi`: leading whitespace, optional sign, as many digits as there are;
/// 0 when there are none. Saturates where C would be undefined.
pub fn atoi(text: &str) -> i64 {
    let bytes = text.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() && is_c_space(bytes[pos]) {
        pos += 1;
    }
    let mut negative = false;
    if let Some(&sign) = bytes.get(pos) {
        if sign == b'+' || sign == b'-' {
            negative = sign == b'-';
            pos += 1;
        }
    }
    let mut value: i64 = 0;
    while let Some(&c) = bytes.get(pos) {
        if !c.is_ascii_digit() {
            break;
        }
        value = value.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        pos += 1;
    }
    if negative {
        -value
    } else {
        value
    }
}

/// ipvsadm's `str_is_digit`: true when every character is a decimal digit
/// (including the empty string, which ipvsadm therefore rejects as an address).
pub fn all_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

/// `inet_ntop(AF_INET6, ...)` as glibc spells it: the longest run (at least two)
/// of zero groups becomes `::` (the first on ties), lower-case hex, and the
/// IPv4-compatible (`::a.b.c.d`) and IPv4-mapped (`::ffff:a.b.c.d`) forms keep a
/// dotted tail.
pub fn ipv6_to_string(addr: &Ipv6Addr) -> String {
    use std::fmt::Write;
    let words = addr.segments();
    let (mut best_base, mut best_len) = (usize::MAX, 0usize);
    let (mut cur_base, mut cur_len) = (usize::MAX, 0usize);
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            if cur_base == usize::MAX {
                cur_base = i;
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if cur_base != usize::MAX {
            if best_base == usize::MAX || cur_len > best_len {
                best_base = cur_base;
                best_len = cur_len;
            }
            cur_base = usize::MAX;
        }
    }
    if cur_base != usize::MAX && (best_base == usize::MAX || cur_len > best_len) {
        best_base = cur_base;
        best_len = cur_len;
    }
    if best_base != usize::MAX && best_len < 2 {
        best_base = usize::MAX;
    }
    let in_best = |i: usize| best_base != usize::MAX && i >= best_base && i < best_base + best_len;

    let mut out = String::with_capacity(40);
    for (i, w) in words.iter().enumerate() {
        if in_best(i) {
            if i == best_base {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)) {
            let o = addr.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return out;
        }
        let _ = write!(out, "{w:x}");
    }
    if best_base != usize::MAX && best_base + best_len == 8 {
        out.push(':');
    }
    out
}

/// `inet_ntop` for either family.
pub fn ip_to_string(addr: &IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => ipv6_to_string(a),
    }
}

/// The IPv4 netmask with `prefix_len` leading ones (0..=32).
pub fn prefix_to_mask(prefix_len: u8) -> Ipv4Addr {
    let bits = match prefix_len {
        0 => 0,
        p if p >= 32 => u32::MAX,
        p => u32::MAX << (32 - u32::from(p)),
    };
    Ipv4Addr::from(bits)
}

/// The prefix length of a contiguous IPv4 netmask; `None` for masks such as
/// 255.0.255.0 that are not a run of ones followed by zeros.
pub fn mask_to_prefix(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    if ones == 32 || bits << ones == 0 {
        Some(ones as u8)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn inet_aton_forms() {
        assert_eq!(inet_aton("192.0.2.10"), Some(Ipv4Addr::new(192, 0, 2, 10)));
        assert_eq!(inet_aton("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("10.1.2"), Some(Ipv4Addr::new(10, 1, 0, 2)));
        assert_eq!(inet_aton("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("010.0.0.1"), Some(Ipv4Addr::new(8, 0, 0, 1)));
        assert_eq!(
            inet_aton("4294967295"),
            Some(Ipv4Addr::new(255, 255, 255, 255))
        );
        assert_eq!(
            inet_aton("1.2.3.4 trailing"),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(inet_aton("0x"), Some(Ipv4Addr::new(0, 0, 0, 0)));
        for bad in [
            "",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.",
            "09.1.1.1",
            "a.b.c.d",
            "1.2.3.4x",
            "4294967296",
            "1.16777216",
            "-1.2.3.4",
            "1..2",
        ] {
            assert_eq!(inet_aton(bad), None, "{bad}");
        }
    }

    #[test]
    fn strtol_rules() {
        assert_eq!(strtol_exact("80"), Some(80));
        assert_eq!(strtol_exact(" +80"), Some(80));
        assert_eq!(strtol_exact("-0"), Some(0));
        assert_eq!(strtol_exact("-5"), Some(-5));
        assert_eq!(strtol_exact(""), None);
        assert_eq!(strtol_exact("+"), None);
        assert_eq!(strtol_exact("80 "), None);
        assert_eq!(strtol_exact("http"), None);
        assert_eq!(strtol_exact("99999999999999999999"), None);
        assert_eq!(number_in("65535", 0, 65535), Some(65535));
        assert_eq!(number_in("65536", 0, 65535), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi(" -3"), -3);
        assert!(all_digits(""));
        assert!(all_digits("123"));
        assert!(!all_digits("12a"));
    }

    #[test]
    fn ipv6_spelling_like_glibc() {
        let cases = [
            ("2001:db8::1", "2001:db8::1"),
            ("::", "::"),
            ("::1", "::1"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:1:2:3:4:0:5", "2001:db8:1:2:3:4:0:5"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::192.0.2.1", "::192.0.2.1"),
            ("1::", "1::"),
            ("ff02::81", "ff02::81"),
        ];
        for (input, want) in cases {
            let a: Ipv6Addr = input.parse().unwrap();
            assert_eq!(ipv6_to_string(&a), want, "{input}");
        }
    }

    #[test]
    fn masks() {
        assert_eq!(prefix_to_mask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(prefix_to_mask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(prefix_to_mask(32), Ipv4Addr::new(255, 255, 255, 255));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 255, 240, 0)), Some(20));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 0, 255, 0)), None);
    }

    proptest! {
        #[test]
        fn dotted_quads_round_trip(a: u32) {
            let addr = Ipv4Addr::from(a);
            prop_assert_eq!(inet_aton(&addr.to_string()), Some(addr));
        }

        #[test]
        fn ipv6_text_parses_back(a: u128) {
            let addr = Ipv6Addr::from(a);
            let text = ipv6_to_string(&addr);
            prop_assert_eq!(text.parse::<Ipv6Addr>().unwrap(), addr);
        }

        #[test]
        fn mask_prefix_round_trip(p in 0u8..=32) {
            prop_assert_eq!(mask_to_prefix(prefix_to_mask(p)), Some(p));
        }

        #[test]
        fn parsers_never_panic(s in ".{0,40}") {
            let _ = inet_aton(&s);
            let _ = strtol_exact(&s);
            let _ = atoi(&s);
        }
    }
}
