//! Interface facts a worker needs: index, MAC address, MTU and IP addresses.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use crate::mac::MacAddr;
use crate::sys;

/// A network interface as seen from the calling thread's network namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Interface index (`ip link` number).
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Hardware address (all zero for interfaces without one, e.g. `lo`).
    pub mac: MacAddr,
    /// MTU in bytes (L3 payload size of a frame).
    pub mtu: u32,
    /// IPv4 addresses with their prefix lengths.
    pub ipv4: Vec<(Ipv4Addr, u8)>,
    /// IPv6 addresses with their prefix lengths.
    pub ipv6: Vec<(Ipv6Addr, u8)>,
}

impl Interface {
    /// Looks an interface up by name: index, MAC and MTU through ioctl, addresses through
    /// getifaddrs(3).
    pub fn by_name(name: &str) -> io::Result<Interface> {
        let index = sys::ifindex_of(name)?;
        let probe = sys::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        let mut req = ifreq_for(name)?;
        ioctl_ifreq(probe.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req)?;
        // SAFETY: SIOCGIFHWADDR fills the `ifru_hwaddr` member of the union.
        let hw = unsafe { req.ifr_ifru.ifru_hwaddr };
        let mut mac = [0u8; 6];
        for (dst, src) in mac.iter_mut().zip(hw.sa_data.iter()) {
            *dst = *src as u8;
        }
        let mut req = ifreq_for(name)?;
        ioctl_ifreq(probe.as_raw_fd(), libc::SIOCGIFMTU, &mut req)?;
        // SAFETY: SIOCGIFMTU fills the `ifru_mtu` member of the union.
        let mtu = unsafe { req.ifr_ifru.ifru_mtu };
        let (ipv4, ipv6) = addresses_of(name)?;
        Ok(Interface {
            index,
            name: name.to_owned(),
            mac: MacAddr(mac),
            mtu: u32::try_from(mtu).unwrap_or(0),
            ipv4,
            ipv6,
        })
    }
}

/// Whether an interface aggregates or segments TCP in the kernel: GRO on receive, TSO on
/// transmit (the legacy ETHTOOL_GGRO / ETHTOOL_GTSO queries; `false` when the driver does
/// not say). An interface left with either on carries GSO super-frames, which a frame
/// forwarder must take whole.
pub fn has_segmentation_offloads(name: &str) -> bool {
    const ETHTOOL_GTSO: u32 = 0x1e;
    const ETHTOOL_GGRO: u32 = 0x2b;
    let Ok(probe) = sys::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) else {
        return false;
    };
    [ETHTOOL_GGRO, ETHTOOL_GTSO].into_iter().any(|cmd| {
        // struct ethtool_value { u32 cmd; u32 data; }
        let mut value = [cmd, 0u32];
        let Ok(mut req) = ifreq_for(name) else {
            return false;
        };
        req.ifr_ifru.ifru_data = value.as_mut_ptr().cast();
        // SAFETY: SIOCETHTOOL with a get command: the kernel reads the command from, and
        // writes the value into, the 8-byte buffer `value`, which outlives the call.
        let ret = unsafe { libc::ioctl(probe.as_raw_fd(), libc::SIOCETHTOOL, &mut req) };
        ret >= 0 && value[1] != 0
    })
}

/// An `ifreq` with the name filled in.
fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    let cname = sys::interface_cstring(name)?;
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(cname.as_bytes_with_nul()) {
        *dst = *src as libc::c_char;
    }
    Ok(req)
}

fn ioctl_ifreq(fd: libc::c_int, request: libc::Ioctl, req: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: the SIOCGIF* requests used here read the name from and write one union member
    // of the `ifreq` we own for the duration of the call.
    let ret = unsafe { libc::ioctl(fd, request, req as *mut libc::ifreq) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

type Addresses = (Vec<(Ipv4Addr, u8)>, Vec<(Ipv6Addr, u8)>);

/// IPv4 and IPv6 addresses of interface `name`, from getifaddrs(3).
fn addresses_of(name: &str) -> io::Result<Addresses> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list and stores its head in `head`.
    if unsafe { libc::getifaddrs(&mut head) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list getifaddrs returned, not yet freed.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        if entry.ifa_name.is_null() || entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let entry_name = unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) };
        if entry_name.to_bytes() != name.as_bytes() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr whose family says which struct it is.
        let family = i32::from(unsafe { (*entry.ifa_addr).sa_family });
        match family {
            libc::AF_INET => {
                // SAFETY: AF_INET entries hold sockaddr_in for address and netmask.
                let addr = unsafe { *(entry.ifa_addr as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
                let prefix = if entry.ifa_netmask.is_null() {
                    32
                } else {
                    // SAFETY: as above, the netmask of an AF_INET entry is a sockaddr_in.
                    let mask = unsafe { *(entry.ifa_netmask as *const libc::sockaddr_in) };
                    u32::from_be(mask.sin_addr.s_addr).count_ones() as u8
                };
                v4.push((ip, prefix));
            }
            libc::AF_INET6 => {
                // SAFETY: AF_INET6 entries hold sockaddr_in6 for address and netmask.
                let addr = unsafe { *(entry.ifa_addr as *const libc::sockaddr_in6) };
                let ip = Ipv6Addr::from(addr.sin6_addr.s6_addr);
                let prefix = if entry.ifa_netmask.is_null() {
                    128
                } else {
                    // SAFETY: as above.
                    let mask = unsafe { *(entry.ifa_netmask as *const libc::sockaddr_in6) };
                    mask.sin6_addr
                        .s6_addr
                        .iter()
                        .map(|b| b.count_ones())
                        .sum::<u32>() as u8
                };
                v6.push((ip, prefix));
            }
            _ => {}
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed exactly once; no reference into
    // the list survives this point.
    unsafe { libc::freeifaddrs(head) };
    Ok((v4, v6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_found() {
        let lo = Interface::by_name("lo").unwrap();
        assert_eq!(lo.name, "lo");
        assert!(lo.index > 0);
        assert_eq!(lo.mac, MacAddr([0; 6]));
        assert!(lo.mtu >= 1500);
        assert!(lo.ipv4.contains(&(Ipv4Addr::LOCALHOST, 8)), "{:?}", lo.ipv4);
    }

    #[test]
    fn bad_names_are_errors() {
        assert!(Interface::by_name("").is_err());
        assert!(Interface::by_name("no-such-if-rvs").is_err());
        assert!(Interface::by_name("a-name-far-too-long-for-ifnamsiz").is_err());
        assert!(Interface::by_name("nul\0inside").is_err());
    }
}
