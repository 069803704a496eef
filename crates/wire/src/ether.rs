//! Ethernet II framing: MAC addresses, the header with up to two VLAN tags
//! (802.1Q / 802.1ad "QinQ"), and in-place MAC rewriting (what direct routing does).

use core::fmt;
use core::str::FromStr;

use crate::error::ParseError;

/// EtherType of IPv4.
pub const ETH_P_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETH_P_IPV6: u16 = 0x86DD;
/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// Tag protocol identifier of an 802.1Q (customer) VLAN tag.
pub const ETH_P_8021Q: u16 = 0x8100;
/// Tag protocol identifier of an 802.1ad (service, outer QinQ) VLAN tag.
pub const ETH_P_8021AD: u16 = 0x88A8;
/// Length of an untagged Ethernet header.
pub const ETH_HLEN: usize = 14;
/// Length of one VLAN tag.
pub const VLAN_HLEN: usize = 4;

/// A 48-bit Ethernet MAC address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xFF; 6]);
    /// 00:00:00:00:00:00.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Group bit set (multicast, broadcast included).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// ff:ff:ff:ff:ff:ff.
    pub const fn is_broadcast(&self) -> bool {
        matches!(self.0, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    }

    /// All zero (not a usable address).
    pub const fn is_zero(&self) -> bool {
        matches!(self.0, [0, 0, 0, 0, 0, 0])
    }

    /// The Ethernet multicast address of an IPv6 multicast group: 33:33 and the
    /// group's low 32 bits (RFC 2464 section 7).
    pub const fn ipv6_multicast(group: &[u8; 16]) -> MacAddr {
        MacAddr([0x33, 0x33, group[12], group[13], group[14], group[15]])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// A MAC address string that is not six hex octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacParseError;

impl fmt::Display for MacParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid MAC address (want six hex octets such as 02:00:5e:10:00:01)")
    }
}

impl std::error::Error for MacParseError {}

impl FromStr for MacAddr {
    type Err = MacParseError;

    /// Six groups of one or two hex digits separated by `:` or `-` (one separator
    /// throughout), case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut parts = s.split(sep);
        for slot in &mut out {
            let part = parts.next().ok_or(MacParseError)?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(MacParseError);
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| MacParseError)?;
        }
        if parts.next().is_some() {
            return Err(MacParseError);
        }
        Ok(MacAddr(out))
    }
}

/// What the Ethernet header of a frame says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EtherMeta {
    /// Destination MAC.
    pub dst: MacAddr,
    /// Source MAC.
    pub src: MacAddr,
    /// Tag control information (PCP, DEI and VLAN id) of the outermost VLAN tag.
    pub vlan: Option<u16>,
    /// The EtherType after any VLAN tags.
    pub ether_type: u16,
    /// Offset of the network-layer header: 14, 18 or 22.
    pub l3_offset: usize,
}

impl EtherMeta {
    /// The 12-bit VLAN id of the outermost tag, if tagged.
    pub const fn vlan_id(&self) -> Option<u16> {
        match self.vlan {
            Some(tci) => Some(tci & 0x0FFF),
            None => None,
        }
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => Some(u16::from_be_bytes([hi, lo])),
        _ => None,
    }
}

#[inline]
fn mac_at(b: &[u8], at: usize) -> Option<MacAddr> {
    match b.get(at..at + 6) {
        Some(&[a, b1, c, d, e, f]) => Some(MacAddr([a, b1, c, d, e, f])),
        _ => None,
    }
}

const fn is_vlan_tpid(t: u16) -> bool {
    t == ETH_P_8021Q || t == ETH_P_8021AD
}

/// Parse the Ethernet header and up to two VLAN tags.
#[inline]
pub fn parse_ether(frame: &[u8]) -> Result<EtherMeta, ParseError> {
    let (Some(dst), Some(src), Some(mut ether_type)) =
        (mac_at(frame, 0), mac_at(frame, 6), be16(frame, 12))
    else {
        return Err(ParseError::TruncatedEthernet);
    };
    let mut l3_offset = ETH_HLEN;
    let mut vlan = None;
    let mut tags = 0;
    while is_vlan_tpid(ether_type) {
        if tags == 2 {
            return Err(ParseError::TooManyVlanTags);
        }
        let (Some(tci), Some(next)) = (be16(frame, l3_offset), be16(frame, l3_offset + 2)) else {
            return Err(ParseError::TruncatedEthernet);
        };
        if vlan.is_none() {
            vlan = Some(tci);
        }
        ether_type = next;
        l3_offset += VLAN_HLEN;
        tags += 1;
    }
    Ok(EtherMeta {
        dst,
        src,
        vlan,
        ether_type,
        l3_offset,
    })
}

/// Overwrite the destination and source MACs. Frames shorter than 12 bytes are left
/// alone.
#[inline]
pub fn set_macs(frame: &mut [u8], dst: MacAddr, src: MacAddr) {
    if let Some(hdr) = frame.get_mut(..12) {
        hdr[..6].copy_from_slice(&dst.0);
        hdr[6..].copy_from_slice(&src.0);
    }
}

/// Write an untagged Ethernet header. Returns the header length (14), or 0 if `out`
/// is too short.
#[inline]
pub fn write_ether(out: &mut [u8], dst: MacAddr, src: MacAddr, ether_type: u16) -> usize {
    let Some(hdr) = out.get_mut(..ETH_HLEN) else {
        return 0;
    };
    hdr[..6].copy_from_slice(&dst.0);
    hdr[6..12].copy_from_slice(&src.0);
    hdr[12..].copy_from_slice(&ether_type.to_be_bytes());
    ETH_HLEN
}

#[cfg(test)]
mod tests {
    use super::*;

    const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

    fn header(ether_type: u16) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&DST);
        f.extend_from_slice(&SRC);
        f.extend_from_slice(&ether_type.to_be_bytes());
        f
    }

    #[test]
    fn mac_display_and_parse() {
        let m = MacAddr([0xaa, 0xbb, 0x0c, 0x00, 0x01, 0xff]);
        assert_eq!(m.to_string(), "aa:bb:0c:00:01:ff");
        assert_eq!("aa:bb:0c:00:01:ff".parse::<MacAddr>(), Ok(m));
        assert_eq!("AA-BB-C-0-1-FF".parse::<MacAddr>(), Ok(m));
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:fff",
            "aa:bb:cc:dd:ee:gg",
            "aa:bb:cc:dd::ff",
            "aa:bb-cc:dd:ee:ff",
            "+a:bb:cc:dd:ee:ff",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(MacParseError), "{bad}");
        }
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_multicast());
        assert!(!m.is_broadcast() && !MacAddr(SRC).is_multicast());
        assert!(MacAddr([0x01, 0, 0x5e, 0, 0, 1]).is_multicast());
        assert!(MacAddr::ZERO.is_zero());
    }

    #[test]
    fn untagged() {
        let mut f = header(ETH_P_IPV4);
        f.push(0x45);
        let m = parse_ether(&f).unwrap();
        assert_eq!(m.dst, MacAddr(DST));
        assert_eq!(m.src, MacAddr(SRC));
        assert_eq!(m.vlan, None);
        assert_eq!(m.ether_type, ETH_P_IPV4);
        assert_eq!(m.l3_offset, 14);
    }

    #[test]
    fn one_and_two_tags() {
        let mut f = header(ETH_P_8021Q);
        f.extend_from_slice(&[0x20, 0x64, 0x86, 0xDD]); // PCP 1, VID 100, IPv6
        let m = parse_ether(&f).unwrap();
        assert_eq!(m.vlan, Some(0x2064));
        assert_eq!(m.vlan_id(), Some(100));
        assert_eq!(m.ether_type, ETH_P_IPV6);
        assert_eq!(m.l3_offset, 18);

        let mut f = header(ETH_P_8021AD);
        f.extend_from_slice(&[0x00, 0x0A, 0x81, 0x00, 0x00, 0x14, 0x08, 0x06]);
        let m = parse_ether(&f).unwrap();
        assert_eq!(m.vlan_id(), Some(10), "outermost tag");
        assert_eq!(m.ether_type, ETH_P_ARP);
        assert_eq!(m.l3_offset, 22);

        let mut f = header(ETH_P_8021AD);
        f.extend_from_slice(&[0, 1, 0x81, 0x00, 0, 2, 0x81, 0x00, 0, 3, 0x08, 0x00]);
        assert_eq!(parse_ether(&f), Err(ParseError::TooManyVlanTags));
    }

    #[test]
    fn truncated_at_every_length() {
        let mut f = header(ETH_P_8021AD);
        f.extend_from_slice(&[0x00, 0x0A, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        for len in 0..f.len() {
            assert_eq!(
                parse_ether(&f[..len]),
                Err(ParseError::TruncatedEthernet),
                "{len}"
            );
        }
        assert!(parse_ether(&f).is_ok());
    }

    #[test]
    fn set_and_write_macs() {
        let mut f = header(ETH_P_IPV4);
        set_macs(&mut f, MacAddr(SRC), MacAddr(DST));
        assert_eq!(&f[..6], &SRC);
        assert_eq!(&f[6..12], &DST);
        let mut short = [0u8; 11];
        set_macs(&mut short, MacAddr(SRC), MacAddr(DST));
        assert_eq!(short, [0u8; 11]);
        let mut out = [0u8; 14];
        assert_eq!(
            write_ether(&mut out, MacAddr(DST), MacAddr(SRC), ETH_P_ARP),
            14
        );
        assert_eq!(out.to_vec(), header(ETH_P_ARP));
        assert_eq!(
            write_ether(&mut out[..13], MacAddr(DST), MacAddr(SRC), ETH_P_ARP),
            0
        );
    }

    #[test]
    fn ipv6_multicast_mac() {
        let group = "ff02::1:ff00:1234"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        assert_eq!(
            MacAddr::ipv6_multicast(&group).to_string(),
            "33:33:ff:00:12:34"
        );
    }
}
