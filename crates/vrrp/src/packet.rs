//! The VRRP advertisement on the wire: VRRPv2 (RFC 3768, IPv4 only, interval in
//! seconds, simple-text authentication, checksum over the VRRP packet alone) and VRRPv3
//! (RFC 5798, IPv4 and IPv6, interval in centiseconds, checksum including the IP
//! pseudo-header). [`parse`] validates a received packet as both RFCs require of a
//! receiver; [`Advert::write`] builds one.
//!
//! Layout (both versions share the first four bytes and the checksum position):
//!
//! ```text
//!  0: version(4) | type(4)    1: VRID    2: priority    3: count of addresses
//!  4: v2: auth type, v3: rsvd(4) + max advert interval(12, centiseconds) ...
//!  5: v2: advert interval (seconds)
//!  6: checksum (2)
//!  8: addresses (4 or 16 bytes each)
//!     v2 only: 8 bytes of authentication data
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rvs_wire::checksum;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The IPv4 multicast group of VRRP.
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP.
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit every advertisement is sent with and must arrive with.
pub const VRRP_TTL: u8 = 255;
/// Fixed header length (both versions).
pub const HEADER_LEN: usize = 8;
/// VRRPv2 authentication data length.
pub const AUTH_DATA_LEN: usize = 8;
/// The only packet type: ADVERTISEMENT.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Largest VRRPv3 interval (12 bits of centiseconds).
pub const V3_MAX_INTERVAL_CS: u16 = 0x0FFF;
/// Longest advertisement: v3 with 255 IPv6 addresses.
pub const MAX_ADVERT_LEN: usize = HEADER_LEN + 255 * 16;

/// Protocol version of an advertisement or instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768.
    V2,
    /// RFC 5798.
    V3,
}

impl Version {
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// VRRPv2 authentication (RFC 3768 section 5.3.6). IP Authentication Header (type 2)
/// was removed from the RFC and is not supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// Type 0: no authentication (the data field is zero when sent, ignored when received).
    #[default]
    None,
    /// Type 1: simple text password, zero padded to 8 bytes ("PASS" in keepalived.conf).
    Simple([u8; AUTH_DATA_LEN]),
}

impl Auth {
    /// The simple-text password as keepalived takes it: the first 8 bytes, zero padded.
    pub fn simple(password: &str) -> Auth {
        let mut data = [0u8; AUTH_DATA_LEN];
        for (slot, byte) in data.iter_mut().zip(password.bytes()) {
            *slot = byte;
        }
        Auth::Simple(data)
    }

    /// The wire value of the auth type field.
    pub const fn type_code(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Simple(_) => 1,
        }
    }

    /// True when a received advertisement carries what this configuration expects.
    /// The password comparison does not stop at the first differing byte.
    pub fn accepts(&self, received: &Auth) -> bool {
        match (self, received) {
            (Auth::None, Auth::None) => true,
            (Auth::Simple(ours), Auth::Simple(theirs)) => {
                ours.iter()
                    .zip(theirs)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
            _ => false,
        }
    }
}

/// Why a received packet is not a valid advertisement, or why one cannot be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrrpError {
    /// Shorter than the fixed header.
    Truncated { len: usize },
    /// TTL / hop limit other than 255: the packet crossed a router (or was forged).
    BadTtl(u8),
    /// Version field other than 2 or 3.
    UnsupportedVersion(u8),
    /// Type field other than ADVERTISEMENT.
    NotAdvertisement(u8),
    /// VRID 0 is not a valid virtual router.
    InvalidVrid,
    /// An advertisement interval of zero.
    ZeroInterval,
    /// The packet length does not match the address count (and auth data for v2).
    LengthMismatch { count: u8, len: usize },
    /// The checksum does not verify.
    BadChecksum,
    /// VRRPv2 auth type other than 0 (none) or 1 (simple text).
    UnsupportedAuth(u8),
    /// Source, destination or carried addresses are of different families.
    FamilyMismatch,
    /// VRRPv2 is IPv4 only.
    V2OverIpv6,
    /// The output buffer cannot hold the advertisement.
    BufferTooSmall { need: usize },
    /// The interval cannot be carried by this version (v2: whole seconds up to 255;
    /// v3: up to 4095 centiseconds).
    IntervalNotRepresentable,
    /// More than 255 addresses.
    TooManyAddresses,
}

impl std::fmt::Display for VrrpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VrrpError::Truncated { len } => write!(f, "truncated VRRP packet ({len} bytes)"),
            VrrpError::BadTtl(ttl) => write!(f, "TTL/hop limit {ttl}, expected 255"),
            VrrpError::UnsupportedVersion(v) => write!(f, "unsupported VRRP version {v}"),
            VrrpError::NotAdvertisement(t) => {
                write!(f, "VRRP packet type {t} is not an advertisement")
            }
            VrrpError::InvalidVrid => write!(f, "VRID 0 is invalid"),
            VrrpError::ZeroInterval => write!(f, "advertisement interval is zero"),
            VrrpError::LengthMismatch { count, len } => {
                write!(f, "length {len} does not match {count} addresses")
            }
            VrrpError::BadChecksum => write!(f, "bad VRRP checksum"),
            VrrpError::UnsupportedAuth(t) => write!(f, "unsupported VRRPv2 auth type {t}"),
            VrrpError::FamilyMismatch => write!(f, "mixed address families"),
            VrrpError::V2OverIpv6 => write!(f, "VRRPv2 is IPv4 only"),
            VrrpError::BufferTooSmall { need } => write!(f, "buffer too small, need {need} bytes"),
            VrrpError::IntervalNotRepresentable => {
                write!(
                    f,
                    "advertisement interval not representable in this version"
                )
            }
            VrrpError::TooManyAddresses => write!(f, "more than 255 addresses"),
        }
    }
}

impl std::error::Error for VrrpError {}

/// One VRRP advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    pub version: Version,
    pub vrid: u8,
    /// 255: the address owner; 0: the master is stopping.
    pub priority: u8,
    /// Advertisement interval in centiseconds (VRRPv2 carries whole seconds, so a v2
    /// advert always holds a multiple of 100 here).
    pub advert_int_cs: u16,
    /// VRRPv2 authentication; always [`Auth::None`] for v3.
    pub auth: Auth,
    /// The virtual addresses, all of the packet's IP family.
    pub addrs: Vec<IpAddr>,
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

/// Validate and decode the VRRP part of a received packet. `ip_src`, `ip_dst` and
/// `ttl` come from the IP header (needed for the TTL rule and the v3 pseudo-header);
/// `bytes` is exactly the IP payload (the caller trims link-layer padding using the
/// IP length). Never panics.
pub fn parse(ip_src: IpAddr, ip_dst: IpAddr, ttl: u8, bytes: &[u8]) -> Result<Advert, VrrpError> {
    if ttl != VRRP_TTL {
        return Err(VrrpError::BadTtl(ttl));
    }
    parse_ignoring_ttl(ip_src, ip_dst, bytes)
}

/// [`parse`] without the TTL rule, for unicast peers across a router (keepalived does
/// not check the TTL of unicast adverts either).
pub fn parse_ignoring_ttl(
    ip_src: IpAddr,
    ip_dst: IpAddr,
    bytes: &[u8],
) -> Result<Advert, VrrpError> {
    let Some(header) = bytes.first_chunk::<HEADER_LEN>() else {
        return Err(VrrpError::Truncated { len: bytes.len() });
    };
    let version = match header[0] >> 4 {
        2 => Version::V2,
        3 => Version::V3,
        other => return Err(VrrpError::UnsupportedVersion(other)),
    };
    let ptype = header[0] & 0x0F;
    if ptype != TYPE_ADVERTISEMENT {
        return Err(VrrpError::NotAdvertisement(ptype));
    }
    if !same_family(ip_src, ip_dst) {
        return Err(VrrpError::FamilyMismatch);
    }
    let ipv6 = ip_src.is_ipv6();
    if version == Version::V2 && ipv6 {
        return Err(VrrpError::V2OverIpv6);
    }
    let vrid = header[1];
    if vrid == 0 {
        return Err(VrrpError::InvalidVrid);
    }
    let priority = header[2];
    let count = header[3];
    let addr_len = if ipv6 { 16 } else { 4 };
    let auth_len = if version == Version::V2 {
        AUTH_DATA_LEN
    } else {
        0
    };
    let expected = HEADER_LEN + usize::from(count) * addr_len + auth_len;
    if bytes.len() != expected {
        return Err(VrrpError::LengthMismatch {
            count,
            len: bytes.len(),
        });
    }
    if !checksum_ok(version, ip_src, ip_dst, bytes) {
        return Err(VrrpError::BadChecksum);
    }
    let (auth, advert_int_cs) = match version {
        Version::V2 => {
            let auth_type = header[4];
            let auth = match auth_type {
                0 => Auth::None,
                1 => {
                    let mut data = [0u8; AUTH_DATA_LEN];
                    data.copy_from_slice(&bytes[expected - AUTH_DATA_LEN..]);
                    Auth::Simple(data)
                }
                other => return Err(VrrpError::UnsupportedAuth(other)),
            };
            (auth, u16::from(header[5]) * 100)
        }
        // The four reserved bits are ignored on receipt (RFC 5798 section 5.2.5).
        Version::V3 => (
            Auth::None,
            u16::from_be_bytes([header[4], header[5]]) & V3_MAX_INTERVAL_CS,
        ),
    };
    if advert_int_cs == 0 {
        return Err(VrrpError::ZeroInterval);
    }
    let addr_bytes = &bytes[HEADER_LEN..HEADER_LEN + usize::from(count) * addr_len];
    let addrs = if ipv6 {
        addr_bytes
            .as_chunks::<16>()
            .0
            .iter()
            .map(|a| IpAddr::V6(Ipv6Addr::from(*a)))
            .collect()
    } else {
        addr_bytes
            .as_chunks::<4>()
            .0
            .iter()
            .map(|a| IpAddr::V4(Ipv4Addr::from(*a)))
            .collect()
    };
    Ok(Advert {
        version,
        vrid,
        priority,
        advert_int_cs,
        auth,
        addrs,
    })
}

/// The checksum accumulator's starting value: the pseudo-header for v3, nothing for v2.
fn pseudo_header(version: Version, src: IpAddr, dst: IpAddr, len: usize) -> u32 {
    match (version, src, dst) {
        (Version::V3, IpAddr::V4(s), IpAddr::V4(d)) => {
            // Lengths here are bounded by MAX_ADVERT_LEN, far below u16::MAX.
            checksum::pseudo_v4(s.octets(), d.octets(), IPPROTO_VRRP, len as u16)
        }
        (Version::V3, IpAddr::V6(s), IpAddr::V6(d)) => {
            checksum::pseudo_v6(&s.octets(), &d.octets(), IPPROTO_VRRP, len as u32)
        }
        _ => 0,
    }
}

fn checksum_ok(version: Version, src: IpAddr, dst: IpAddr, packet: &[u8]) -> bool {
    let acc = checksum::sum(packet, pseudo_header(version, src, dst, packet.len()));
    checksum::fold(acc) == 0xFFFF
}

impl Advert {
    /// Bytes [`Advert::write`] produces.
    pub fn wire_len(&self) -> usize {
        let addr_len = match self.addrs.first() {
            Some(IpAddr::V6(_)) => 16,
            _ => 4,
        };
        let auth_len = if self.version == Version::V2 {
            AUTH_DATA_LEN
        } else {
            0
        };
        HEADER_LEN + self.addrs.len() * addr_len + auth_len
    }

    /// Encode into `buf` with the checksum for an IP packet from `src` to `dst`.
    /// Returns the number of bytes written.
    pub fn write(&self, buf: &mut [u8], src: IpAddr, dst: IpAddr) -> Result<usize, VrrpError> {
        if !same_family(src, dst) || self.addrs.iter().any(|a| !same_family(*a, src)) {
            return Err(VrrpError::FamilyMismatch);
        }
        if self.version == Version::V2 && src.is_ipv6() {
            return Err(VrrpError::V2OverIpv6);
        }
        if self.vrid == 0 {
            return Err(VrrpError::InvalidVrid);
        }
        if self.advert_int_cs == 0 {
            return Err(VrrpError::ZeroInterval);
        }
        let count = u8::try_from(self.addrs.len()).map_err(|_| VrrpError::TooManyAddresses)?;
        let interval_field: [u8; 2] = match self.version {
            Version::V2 => {
                if !self.advert_int_cs.is_multiple_of(100) || self.advert_int_cs / 100 > 255 {
                    return Err(VrrpError::IntervalNotRepresentable);
                }
                [self.auth.type_code(), (self.advert_int_cs / 100) as u8]
            }
            Version::V3 => {
                if self.advert_int_cs > V3_MAX_INTERVAL_CS {
                    return Err(VrrpError::IntervalNotRepresentable);
                }
                self.advert_int_cs.to_be_bytes()
            }
        };
        let len = self.wire_len();
        let Some(out) = buf.get_mut(..len) else {
            return Err(VrrpError::BufferTooSmall { need: len });
        };
        out[0] = (self.version.number() << 4) | TYPE_ADVERTISEMENT;
        out[1] = self.vrid;
        out[2] = self.priority;
        out[3] = count;
        out[4..6].copy_from_slice(&interval_field);
        out[6..8].fill(0);
        let mut at = HEADER_LEN;
        for addr in &self.addrs {
            match addr {
                IpAddr::V4(a) => {
                    out[at..at + 4].copy_from_slice(&a.octets());
                    at += 4;
                }
                IpAddr::V6(a) => {
                    out[at..at + 16].copy_from_slice(&a.octets());
                    at += 16;
                }
            }
        }
        if self.version == Version::V2 {
            let data = match self.auth {
                Auth::None => [0u8; AUTH_DATA_LEN],
                Auth::Simple(data) => data,
            };
            out[at..at + AUTH_DATA_LEN].copy_from_slice(&data);
        }
        let csum = checksum::finish(checksum::sum(
            out,
            pseudo_header(self.version, src, dst, len),
        ));
        out[6..8].copy_from_slice(&csum.to_be_bytes());
        Ok(len)
    }
}

/// Fuzzing entry point: feeds arbitrary bytes to [`parse`] under both address families.
/// Must never panic; a parsed advert must re-encode to the same bytes.
pub fn fuzz_parse(data: &[u8]) {
    let pairs = [
        (
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            IpAddr::V4(VRRP_GROUP_V4),
        ),
        (
            IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            IpAddr::V6(VRRP_GROUP_V6),
        ),
    ];
    for (src, dst) in pairs {
        if let Ok(advert) = parse(src, dst, VRRP_TTL, data) {
            let mut buf = [0u8; MAX_ADVERT_LEN + AUTH_DATA_LEN];
            if let Ok(n) = advert.write(&mut buf, src, dst) {
                // v3 reserved bits and v2 auth data under type 0 are ignored on receipt,
                // so only the re-parsed value must match, not the bytes.
                let again = parse(src, dst, VRRP_TTL, &buf[..n]);
                assert_eq!(again.as_ref(), Ok(&advert));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }
    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));
    const DST: IpAddr = IpAddr::V4(VRRP_GROUP_V4);

    fn v2_advert() -> Advert {
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            advert_int_cs: 100,
            auth: Auth::simple("secret"),
            addrs: vec![v4(192, 0, 2, 10), v4(192, 0, 2, 11)],
        }
    }

    /// A VRRPv2 advert assembled by hand from RFC 3768's layout: VRID 1, priority 100,
    /// one address 192.0.2.10, no auth, interval 1 s.
    #[test]
    fn v2_known_bytes() {
        let mut bytes = [
            0x21, 1, 100, 1, 0, 1, 0, 0, 192, 0, 2, 10, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let csum = checksum::finish(checksum::sum(&bytes, 0));
        bytes[6..8].copy_from_slice(&csum.to_be_bytes());
        let advert = parse(SRC, DST, 255, &bytes).unwrap();
        assert_eq!(advert.version, Version::V2);
        assert_eq!(advert.vrid, 1);
        assert_eq!(advert.priority, 100);
        assert_eq!(advert.advert_int_cs, 100);
        assert_eq!(advert.auth, Auth::None);
        assert_eq!(advert.addrs, vec![v4(192, 0, 2, 10)]);
        let mut out = [0u8; 64];
        let n = advert.write(&mut out, SRC, DST).unwrap();
        assert_eq!(&out[..n], &bytes);
    }

    /// Adverts keepalived 2.2.7 sent from 198.51.100.1 (VRID 51, priority 150, two
    /// VIPs, 1 s), captured with tcpdump: we parse them and write the same bytes.
    #[test]
    fn keepalived_captures() {
        let src = v4(198, 51, 100, 1);
        let v2: [u8; 24] = [
            0x21, 0x33, 0x96, 0x02, 0x01, 0x01, 0x87, 0x66, 192, 0, 2, 10, 192, 0, 2, 11, b's',
            b'e', b'c', b'r', b'e', b't', 0, 0,
        ];
        let v3: [u8; 16] = [
            0x31, 0x33, 0x96, 0x02, 0x00, 0x64, 0xa9, 0x87, 192, 0, 2, 10, 192, 0, 2, 11,
        ];
        for (bytes, version, auth) in [
            (&v2[..], Version::V2, Auth::simple("secret")),
            (&v3[..], Version::V3, Auth::None),
        ] {
            let advert = parse(src, DST, 255, bytes).unwrap();
            assert_eq!(
                advert,
                Advert {
                    version,
                    vrid: 51,
                    priority: 150,
                    advert_int_cs: 100,
                    auth,
                    addrs: vec![v4(192, 0, 2, 10), v4(192, 0, 2, 11)],
                }
            );
            let mut out = [0u8; 64];
            let n = advert.write(&mut out, src, DST).unwrap();
            assert_eq!(&out[..n], bytes);
        }
    }

    #[test]
    fn v3_checksum_covers_pseudo_header() {
        let advert = Advert {
            version: Version::V3,
            vrid: 7,
            priority: 200,
            advert_int_cs: 100,
            auth: Auth::None,
            addrs: vec![v4(192, 0, 2, 10)],
        };
        let mut buf = [0u8; 64];
        let n = advert.write(&mut buf, SRC, DST).unwrap();
        assert_eq!(n, 12);
        assert_eq!(parse(SRC, DST, 255, &buf[..n]).unwrap(), advert);
        // Another source address changes the pseudo-header, so the checksum fails.
        assert_eq!(
            parse(v4(198, 51, 100, 3), DST, 255, &buf[..n]),
            Err(VrrpError::BadChecksum)
        );
    }

    #[test]
    fn v3_ipv6_round_trip() {
        let src = IpAddr::V6("fe80::1".parse().unwrap());
        let dst = IpAddr::V6(VRRP_GROUP_V6);
        let advert = Advert {
            version: Version::V3,
            vrid: 9,
            priority: 255,
            advert_int_cs: 50,
            auth: Auth::None,
            addrs: vec![IpAddr::V6("2001:db8::10".parse().unwrap())],
        };
        let mut buf = [0u8; 64];
        let n = advert.write(&mut buf, src, dst).unwrap();
        assert_eq!(n, 24);
        assert_eq!(parse(src, dst, 255, &buf[..n]).unwrap(), advert);
    }

    #[test]
    fn receiver_rules() {
        let advert = v2_advert();
        let mut buf = [0u8; 64];
        let n = advert.write(&mut buf, SRC, DST).unwrap();
        let good = &buf[..n];
        assert_eq!(parse(SRC, DST, 254, good), Err(VrrpError::BadTtl(254)));
        assert_eq!(parse_ignoring_ttl(SRC, DST, good).unwrap(), advert);
        assert_eq!(
            parse(SRC, DST, 255, &good[..n - 1]),
            Err(VrrpError::LengthMismatch {
                count: 2,
                len: n - 1
            })
        );
        let mut bad = good.to_vec();
        bad[2] ^= 1;
        assert_eq!(parse(SRC, DST, 255, &bad), Err(VrrpError::BadChecksum));
        let mut bad = good.to_vec();
        bad[0] = 0x12;
        assert_eq!(
            parse(SRC, DST, 255, &bad),
            Err(VrrpError::UnsupportedVersion(1))
        );
        let mut bad = good.to_vec();
        bad[0] = 0x22;
        assert_eq!(
            parse(SRC, DST, 255, &bad),
            Err(VrrpError::NotAdvertisement(2))
        );
        let v6 = IpAddr::V6(VRRP_GROUP_V6);
        assert_eq!(parse(v6, v6, 255, good), Err(VrrpError::V2OverIpv6));
        assert_eq!(parse(SRC, v6, 255, good), Err(VrrpError::FamilyMismatch));
        assert_eq!(
            parse(SRC, DST, 255, &[0x21]),
            Err(VrrpError::Truncated { len: 1 })
        );
    }

    #[test]
    fn auth_type_two_is_refused() {
        let mut bytes = [0x21, 1, 100, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let csum = checksum::finish(checksum::sum(&bytes, 0));
        bytes[6..8].copy_from_slice(&csum.to_be_bytes());
        assert_eq!(
            parse(SRC, DST, 255, &bytes),
            Err(VrrpError::UnsupportedAuth(2))
        );
    }

    #[test]
    fn password_matching() {
        let ours = Auth::simple("secret");
        assert!(ours.accepts(&Auth::simple("secret")));
        assert!(!ours.accepts(&Auth::simple("secreT")));
        assert!(!ours.accepts(&Auth::None));
        // keepalived keeps only the first eight characters.
        assert_eq!(Auth::simple("123456789"), Auth::simple("12345678"));
    }

    #[test]
    fn write_refuses_what_the_version_cannot_carry() {
        let mut advert = v2_advert();
        let mut buf = [0u8; 64];
        advert.advert_int_cs = 150;
        assert_eq!(
            advert.write(&mut buf, SRC, DST),
            Err(VrrpError::IntervalNotRepresentable)
        );
        advert.advert_int_cs = 100;
        assert_eq!(
            advert.write(&mut buf[..10], SRC, DST),
            Err(VrrpError::BufferTooSmall { need: 24 })
        );
        let v6 = IpAddr::V6(VRRP_GROUP_V6);
        assert_eq!(
            advert.write(&mut buf, v6, v6),
            Err(VrrpError::FamilyMismatch)
        );
    }

    fn arb_advert() -> impl Strategy<Value = (Advert, IpAddr, IpAddr)> {
        let v4_case = (
            1u8..=255,
            any::<u8>(),
            prop::bool::ANY,
            1u16..=255,
            1u16..=4095,
            prop::option::of(any::<[u8; 8]>()),
            prop::collection::vec(any::<[u8; 4]>(), 0..20),
            any::<[u8; 4]>(),
        )
            .prop_map(|(vrid, priority, v3, secs, cs, pass, addrs, src)| {
                let version = if v3 { Version::V3 } else { Version::V2 };
                let advert = Advert {
                    version,
                    vrid,
                    priority,
                    advert_int_cs: if v3 { cs } else { secs * 100 },
                    auth: match (version, pass) {
                        (Version::V2, Some(p)) => Auth::Simple(p),
                        _ => Auth::None,
                    },
                    addrs: addrs.into_iter().map(|a| IpAddr::V4(a.into())).collect(),
                };
                (advert, IpAddr::V4(src.into()), DST)
            });
        let v6_case = (
            1u8..=255,
            any::<u8>(),
            1u16..=4095,
            prop::collection::vec(any::<[u8; 16]>(), 0..8),
            any::<[u8; 16]>(),
        )
            .prop_map(|(vrid, priority, cs, addrs, src)| {
                let advert = Advert {
                    version: Version::V3,
                    vrid,
                    priority,
                    advert_int_cs: cs,
                    auth: Auth::None,
                    addrs: addrs.into_iter().map(|a| IpAddr::V6(a.into())).collect(),
                };
                (advert, IpAddr::V6(src.into()), IpAddr::V6(VRRP_GROUP_V6))
            });
        prop_oneof![v4_case, v6_case]
    }

    proptest! {
        #[test]
        fn round_trip((advert, src, dst) in arb_advert()) {
            let mut buf = [0u8; MAX_ADVERT_LEN + AUTH_DATA_LEN];
            let n = advert.write(&mut buf, src, dst).unwrap();
            prop_assert_eq!(n, advert.wire_len());
            prop_assert_eq!(parse(src, dst, 255, &buf[..n]).unwrap(), advert);
        }

        #[test]
        fn never_panics_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..120)) {
            fuzz_parse(&data);
        }

        #[test]
        fn never_panics_on_mutations(
            (advert, src, dst) in arb_advert(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut buf = [0u8; MAX_ADVERT_LEN + AUTH_DATA_LEN];
            let n = advert.write(&mut buf, src, dst).unwrap();
            let mut bytes = buf[..n].to_vec();
            for (at, x) in flips {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            let keep = cut.index(bytes.len() + 1);
            let _ = parse(src, dst, 255, &bytes);
            let _ = parse(src, dst, 255, &bytes[..keep]);
            fuzz_parse(&bytes);
        }
    }
}
