//! New connections: find the virtual service, pick a real server (through a
//! persistence template when the service is persistent), create the connection.

use std::sync::Arc;
use std::time::Duration;

use rvs_wire::ip::IpMeta;

use super::{bump, Director, DropReason, Fam, Pkt, Rx, Verdict};
use crate::conn::state::{TCP_RST, TCP_SYN};
use crate::conn::table::{flags, fwd_flags, NewConn, NIL};
use crate::conn::{ConnState, Direction, IpBytes};
use crate::dest::Dest;
use crate::model::{ForwardMethod, Protocol, ServiceKey};
use crate::sched::SchedContext;
use crate::service::Service;
use crate::time::Time;

impl Director {
    pub(super) fn new_conn<A: Fam>(
        &mut self,
        rx: &mut Rx<'_>,
        ip: &IpMeta,
        p: Pkt<A>,
        proto: Protocol,
        now: Time,
    ) -> Verdict {
        let mark = if rx.mark != 0 {
            rx.mark
        } else if self.snap.fwmark_rules.is_empty() {
            0
        } else {
            self.snap.classify(proto, &ip.dst, p.dport)
        };
        let Some(svc) = self
            .snap
            .find_service(proto, &ip.dst, p.dport, mark)
            .cloned()
        else {
            return self.drop(DropReason::NoService);
        };
        if proto == Protocol::Tcp
            && (p.tcp_flags & TCP_RST != 0
                || (p.tcp_flags & TCP_SYN == 0 && !self.snap.settings.sloppy_tcp))
        {
            return self.drop(DropReason::NotSyn);
        }
        let picked = if svc.config.persistence.is_some() {
            self.schedule_persistent::<A>(&svc, ip, &p, now)
        } else {
            self.schedule_plain(&svc, ip, &p, now).map(|d| (d, NIL))
        };
        let Some((dest, template)) = picked else {
            if self.snap.settings.icmp_when_no_dest {
                return self.port_unreachable::<A>(rx, ip);
            }
            return self.drop(DropReason::NoDest);
        };
        let method = dest.method();
        // Route and tunnel keep the service port; NAT maps to the real server's port
        // (port 0: the port the client asked for).
        let dport = if method == ForwardMethod::Masq && dest.port() != 0 {
            dest.port()
        } else {
            p.dport
        };
        let Some(daddr) = A::from_ip(dest.addr()) else {
            return self.drop(DropReason::NoDest);
        };

        if let Some(c) = self.stats.services.get(svc.id.0 as usize) {
            c.conn();
        }
        if let Some(c) = self.stats.dests.get(dest.id().0 as usize) {
            c.conn();
        }

        let mut cflags = fwd_flags(method) | flags::INACTIVE;
        if method != ForwardMethod::Masq {
            cflags |= flags::NO_OUTPUT;
        }
        let new = NewConn {
            proto: p.proto,
            caddr: p.src,
            cport: p.sport,
            vaddr: p.dst,
            vport: p.dport,
            daddr,
            dport,
            state: if proto == Protocol::Tcp {
                ConnState::None
            } else {
                ConnState::Udp
            },
            flags: cflags,
            dest: dest.id(),
            control: template,
        };

        if svc.config.one_packet && proto == Protocol::Udp {
            // One-packet scheduling: forward this datagram, remember nothing.
            self.count_in(dest.id(), p.ip_len);
            let c = conn_view(&new);
            return self.forward_in::<A>(rx, ip, &c, now);
        }

        let first_timeout = Duration::from_secs(2);
        let slot = match A::table(&mut self.tables).insert(new, first_timeout, now) {
            Ok(s) => s,
            Err(_) => return self.drop(DropReason::TableFull),
        };
        dest.bind_conn(false, false);
        bump(&self.stats.conns);
        if proto == Protocol::Tcp {
            let dir = if method == ForwardMethod::Masq {
                Direction::Input
            } else {
                Direction::InputOnly
            };
            self.tcp_transition::<A>(slot, dir, p.tcp_flags, now);
        } else {
            let t = self.snap.settings.timeouts.udp;
            A::table(&mut self.tables).touch(slot, Duration::from_secs(t as u64), now);
        }
        let c = *A::table_ref(&self.tables).get(slot);
        self.count_in(dest.id(), p.ip_len);
        self.forward_in::<A>(rx, ip, &c, now)
    }

    fn sched_ctx<A: Fam>(ip: &IpMeta, p: &Pkt<A>, now: Time) -> SchedContext {
        SchedContext {
            client_addr: ip.src,
            client_port: p.sport,
            dest_addr: ip.dst,
            dest_port: p.dport,
            now,
        }
    }

    fn schedule_plain<A: Fam>(
        &mut self,
        svc: &Arc<Service>,
        ip: &IpMeta,
        p: &Pkt<A>,
        now: Time,
    ) -> Option<Arc<Dest>> {
        let slot = self.scheds.get_mut(svc.id.0 as usize)?.as_mut()?;
        let ctx = Self::sched_ctx(ip, p, now);
        let i = slot.sched.schedule(&svc.dests, &ctx)?;
        svc.dests.get(i).cloned()
    }

    /// IPVS's persistence: one template per client network (under the persistence
    /// mask) and service side; a valid template decides the real server, otherwise
    /// the scheduler picks one and a new template remembers it.
    fn schedule_persistent<A: Fam>(
        &mut self,
        svc: &Arc<Service>,
        ip: &IpMeta,
        p: &Pkt<A>,
        now: Time,
    ) -> Option<(Arc<Dest>, u32)> {
        let pers = svc.config.persistence?;
        let timeout = Duration::from_secs(pers.timeout_secs as u64);
        let cnet = p.src.masked(pers.prefix_len);
        let (tproto, tvaddr, tvport, fwmark) = match svc.config.key {
            ServiceKey::FwMark { mark, .. } => (0u8, A::from_mark(mark), 0u16, true),
            ServiceKey::Addr { port: 0, .. } => (p.proto, p.dst, 0, false),
            ServiceKey::Addr { port, .. } => (p.proto, p.dst, port, false),
        };
        let table = A::table(&mut self.tables);
        if let Some(ts) = table.lookup_template(tproto, &cnet, &tvaddr, tvport) {
            let t = *table.get(ts);
            let dest = self.snap.dest(t.dest()).cloned();
            let valid = dest.as_ref().is_some_and(|d| {
                d.is_available()
                    && !(self.snap.settings.expire_quiescent_template && d.weight() <= 0)
            });
            match dest {
                Some(d) if valid => {
                    table.touch(ts, timeout, now);
                    return Some((d, ts));
                }
                _ => {
                    // Invalid: take it out of the way; a new template replaces it.
                    if t.controlled() == 0 {
                        self.remove_conn::<A>(ts);
                    } else {
                        A::table(&mut self.tables).get_mut(ts).vport = 0xFFFF;
                    }
                }
            }
        }
        let dest = self.schedule_plain(svc, ip, p, now)?;
        let daddr = A::from_ip(dest.addr())?;
        let mut tflags = flags::TEMPLATE | fwd_flags(dest.method());
        if fwmark {
            tflags |= flags::FWMARK;
        }
        let new = NewConn {
            proto: tproto,
            caddr: cnet,
            cport: 0,
            vaddr: tvaddr,
            vport: tvport,
            daddr,
            dport: dest.port(),
            state: ConnState::None,
            flags: tflags,
            dest: dest.id(),
            control: NIL,
        };
        match A::table(&mut self.tables).insert(new, timeout, now) {
            Ok(ts) => {
                dest.bind_conn(true, false);
                bump(&self.stats.templates);
                Some((dest, ts))
            }
            // No room for the template: the connection still goes ahead.
            Err(_) => Some((dest, NIL)),
        }
    }
}

/// A connection entry for a one-packet datagram that is never stored.
fn conn_view<A: IpBytes>(n: &NewConn<A>) -> crate::conn::Conn<A> {
    crate::conn::Conn::view(n)
}
