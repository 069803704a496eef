//! ipvsadm's listing order. libipvs sorts services by (firewall mark, address
//! family, protocol, address, port) and real servers by (address, port), each
//! field compared by C `int` subtraction of the unsigned values. That wraps: two
//! addresses more than 2^31 apart compare "backwards" (ipvsadm lists 192.0.2.10
//! before 10.0.0.1), and the comparison is then not even transitive. To print
//! the very same order we keep that comparison and sort as glibc's `qsort` does
//! (a stable top-down merge sort), which is deterministic whatever the
//! comparison's quirks.

use std::net::IpAddr;

use rvs_core::{Family, Protocol, ServiceKey};

/// C's `(int)(a - b)` on unsigned operands.
fn wrapping_cmp(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// The address as four host-order 32-bit words; IPv4 in the first word.
fn words(addr: &IpAddr) -> [u32; 4] {
    match addr {
        IpAddr::V4(a) => [u32::from(*a), 0, 0, 0],
        IpAddr::V6(a) => {
            let o = a.octets();
            let mut w = [0u32; 4];
            for (i, chunk) in o.chunks_exact(4).enumerate() {
                w[i] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
            w
        }
    }
}

/// Compares addresses word by word, as many words as the family of `a` has.
fn compare_addrs(a: &IpAddr, b: &IpAddr) -> i32 {
    let (wa, wb) = (words(a), words(b));
    let n = if a.is_ipv6() { 4 } else { 1 };
    wa.iter()
        .zip(wb.iter())
        .take(n)
        .map(|(x, y)| wrapping_cmp(*x, *y))
        .find(|r| *r != 0)
        .unwrap_or(0)
}

const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;

fn af_number(family: Family) -> i32 {
    match family {
        Family::V4 => AF_INET,
        Family::V6 => AF_INET6,
    }
}

/// The fields libipvs compares, with the values the kernel reports for them.
fn service_fields(key: &ServiceKey) -> (u32, i32, i32, IpAddr, u16) {
    match *key {
        ServiceKey::Addr { proto, addr, port } => {
            (0, af_number(Family::of(&addr)), proto as i32, addr, port)
        }
        ServiceKey::FwMark { mark, family } => {
            // ipvsadm registers firewall-mark services as TCP with a zero address.
            let zero = match family {
                Family::V4 => IpAddr::V4(0.into()),
                Family::V6 => IpAddr::V6(0u128.into()),
            };
            (mark, af_number(family), Protocol::Tcp as i32, zero, 0)
        }
    }
}

/// libipvs's service comparison: negative, zero or positive like `strcmp`.
pub fn compare_services(a: &ServiceKey, b: &ServiceKey) -> i32 {
    let (mark_a, af_a, proto_a, addr_a, port_a) = service_fields(a);
    let (mark_b, af_b, proto_b, addr_b, port_b) = service_fields(b);
    let r = wrapping_cmp(mark_a, mark_b);
    if r != 0 {
        return r;
    }
    if af_a != af_b {
        return af_a - af_b;
    }
    if proto_a != proto_b {
        return proto_a - proto_b;
    }
    let r = compare_addrs(&addr_a, &addr_b);
    if r != 0 {
        return r;
    }
    i32::from(port_a) - i32::from(port_b)
}

/// libipvs's real server comparison.
pub fn compare_dests(addr_a: IpAddr, port_a: u16, addr_b: IpAddr, port_b: u16) -> i32 {
    let r = compare_addrs(&addr_a, &addr_b);
    if r != 0 {
        return r;
    }
    i32::from(port_a) - i32::from(port_b)
}

/// Sorts as glibc's `qsort` does: split at n/2, sort both halves, merge taking
/// from the left half while the comparison is <= 0.
pub fn sort_by<T: Copy>(items: &mut [T], mut cmp: impl FnMut(&T, &T) -> i32) {
    let mut scratch = Vec::with_capacity(items.len());
    merge_sort(items, &mut cmp, &mut scratch);
}

fn merge_sort<T: Copy>(items: &mut [T], cmp: &mut impl FnMut(&T, &T) -> i32, scratch: &mut Vec<T>) {
    let n = items.len();
    if n <= 1 {
        return;
    }
    let (left, right) = items.split_at_mut(n / 2);
    merge_sort(left, cmp, scratch);
    merge_sort(right, cmp, scratch);
    scratch.clear();
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&left[i], &right[j]) <= 0 {
            scratch.push(left[i]);
            i += 1;
        } else {
            scratch.push(right[j]);
            j += 1;
        }
    }
    scratch.extend_from_slice(&left[i..]);
    scratch.extend_from_slice(&right[j..]);
    items.copy_from_slice(scratch);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            proto: Protocol::Tcp,
            addr: addr.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn services_in_ipvsadm_order() {
        let udp = ServiceKey::Addr {
            proto: Protocol::Udp,
            addr: "192.0.2.1".parse().unwrap(),
            port: 53,
        };
        let v6 = tcp("2001:db8::1", 80);
        let fw1 = ServiceKey::FwMark {
            mark: 1,
            family: Family::V4,
        };
        let fw1v6 = ServiceKey::FwMark {
            mark: 1,
            family: Family::V6,
        };
        let fw2 = ServiceKey::FwMark {
            mark: 2,
            family: Family::V4,
        };
        let mut keys = vec![
            fw2,
            fw1v6,
            v6,
            udp,
            tcp("192.0.2.10", 443),
            fw1,
            tcp("192.0.2.10", 80),
            tcp("192.0.2.9", 8080),
        ];
        sort_by(&mut keys, compare_services);
        assert_eq!(
            keys,
            vec![
                tcp("192.0.2.9", 8080),
                tcp("192.0.2.10", 80),
                tcp("192.0.2.10", 443),
                udp,
                v6,
                fw1,
                fw1v6,
                fw2
            ]
        );
    }

    #[test]
    fn wrapping_comparison_like_libipvs() {
        // 10.0.0.1 - 192.0.2.10 wraps to a positive int: ipvsadm lists 192.0.2.10 first.
        let mut keys = vec![tcp("10.0.0.1", 80), tcp("192.0.2.10", 80)];
        sort_by(&mut keys, compare_services);
        assert_eq!(keys, vec![tcp("192.0.2.10", 80), tcp("10.0.0.1", 80)]);
        assert!(
            compare_dests(
                "10.0.0.1".parse().unwrap(),
                80,
                "192.0.2.10".parse().unwrap(),
                80
            ) > 0
        );
        assert!(
            compare_dests(
                "198.51.100.1".parse().unwrap(),
                80,
                "198.51.100.2".parse().unwrap(),
                80
            ) < 0
        );
        assert!(
            compare_dests(
                "198.51.100.1".parse().unwrap(),
                81,
                "198.51.100.1".parse().unwrap(),
                80
            ) > 0
        );
    }

    #[test]
    fn merge_sort_is_stable() {
        let mut v = vec![(1, 'a'), (0, 'b'), (1, 'c'), (0, 'd')];
        sort_by(&mut v, |x, y| x.0 - y.0);
        assert_eq!(v, vec![(0, 'b'), (0, 'd'), (1, 'a'), (1, 'c')]);
    }

    proptest! {
        #[test]
        fn sorts_like_std_for_a_total_order(mut v in proptest::collection::vec(any::<i16>(), 0..64)) {
            let mut expected = v.clone();
            expected.sort();
            sort_by(&mut v, |a, b| i32::from(*a) - i32::from(*b));
            prop_assert_eq!(v, expected);
        }

        #[test]
        fn nearby_addresses_sort_numerically(v in proptest::collection::vec(0u32..0x7fff_ffff, 0..32)) {
            // Within 2^31 of each other the wrapping comparison is a true order.
            let mut keys: Vec<ServiceKey> = v
                .iter()
                .map(|a| ServiceKey::Addr { proto: Protocol::Tcp, addr: IpAddr::V4((*a).into()), port: 80 })
                .collect();
            let mut expected = keys.clone();
            expected.sort();
            sort_by(&mut keys, compare_services);
            prop_assert_eq!(keys, expected);
        }
    }
}
