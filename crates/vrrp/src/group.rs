//! Sync groups (keepalived's `vrrp_sync_group`): instances that must move together,
//! for example the client-side and the server-side VIP of a NAT director, so one host
//! holds both. When one member becomes master the others follow; when one falls back
//! to backup the others do; while any member's interface is down the whole group is
//! in Fault.
//!
//! keepalived 2.x additionally holds a member in Backup until every member wants
//! Master; here the first member whose Master_Down timer expires (or which is the
//! address owner) takes the whole group with it, which is the behaviour keepalived has
//! when members share one link and so time out together.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::NotifyScripts;
use crate::instance::{Action, Event, Instance, State};

/// Actions of one member, tagged with the member's index in the group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAction {
    /// Index into [`SyncGroup::members`]; `None` for the group's own notify scripts.
    pub member: Option<usize>,
    pub action: Action,
}

/// A set of instances that change state together.
#[derive(Debug)]
pub struct SyncGroup {
    name: String,
    members: Vec<Instance>,
    state: State,
    notify: NotifyScripts,
    scratch: Vec<Action>,
}

impl SyncGroup {
    pub fn new(name: &str, members: Vec<Instance>, notify: NotifyScripts) -> SyncGroup {
        SyncGroup {
            name: name.to_owned(),
            members,
            state: State::Init,
            notify,
            scratch: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn members(&self) -> &[Instance] {
        &self.members
    }
    /// The state the group last moved to.
    pub fn state(&self) -> State {
        self.state
    }

    /// The member with this VRID on this local address (adverts are matched this way).
    pub fn find(&self, vrid: u8, local_addr: IpAddr) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.config().vrid == vrid && m.config().local_addr == local_addr)
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        self.members
            .iter()
            .filter_map(Instance::next_deadline)
            .min()
    }

    /// Start every member.
    pub fn startup(&mut self, now: Duration, out: &mut Vec<MemberAction>) {
        for i in 0..self.members.len() {
            self.handle(i, now, Event::Startup, out);
        }
    }

    /// Deliver a timer to every member (those not yet due ignore it).
    pub fn timer(&mut self, now: Duration, out: &mut Vec<MemberAction>) {
        for i in 0..self.members.len() {
            self.handle(i, now, Event::Timer, out);
        }
    }

    /// Stop every member.
    pub fn shutdown(&mut self, now: Duration, out: &mut Vec<MemberAction>) {
        for i in 0..self.members.len() {
            self.handle(i, now, Event::Shutdown, out);
        }
    }

    /// Feed an event to member `member` (ignored when out of range) and pull the other
    /// members along with any state change.
    pub fn handle(
        &mut self,
        member: usize,
        now: Duration,
        event: Event<'_>,
        out: &mut Vec<MemberAction>,
    ) {
        let Some(instance) = self.members.get_mut(member) else {
            return;
        };
        let before = instance.state();
        self.scratch.clear();
        instance.handle(now, event, &mut self.scratch);
        let after = instance.state();
        push_all(out, member, &mut self.scratch);
        if after == before {
            return;
        }
        let any_down = self.members.iter().any(|m| !m.interface_up());
        let target = if any_down && after != State::Init {
            State::Fault
        } else {
            after
        };
        for (i, other) in self.members.iter_mut().enumerate() {
            self.scratch.clear();
            match target {
                State::Master if i != member => other.force_master(now, &mut self.scratch),
                State::Backup if i != member => other.force_backup(now, &mut self.scratch),
                // Includes the member itself when it came up while another is down.
                State::Fault => other.force_fault(&mut self.scratch),
                _ => {}
            }
            push_all(out, i, &mut self.scratch);
        }
        if target != self.state && target != State::Init {
            self.state = target;
            self.group_notify(out);
        } else if self.members.iter().all(|m| m.state() == State::Init) {
            self.state = State::Init;
        }
    }

    fn group_notify(&self, out: &mut Vec<MemberAction>) {
        let specific = match self.state {
            State::Master => &self.notify.master,
            State::Backup => &self.notify.backup,
            State::Fault => &self.notify.fault,
            State::Init => &self.notify.stop,
        };
        for (script, generic) in [(specific, false), (&self.notify.generic, true)] {
            if let Some(script) = script {
                out.push(MemberAction {
                    member: None,
                    action: Action::RunNotify {
                        script: script.clone(),
                        state: self.state,
                        generic,
                    },
                });
            }
        }
    }
}

fn push_all(out: &mut Vec<MemberAction>, member: usize, actions: &mut Vec<Action>) {
    out.extend(actions.drain(..).map(|action| MemberAction {
        member: Some(member),
        action,
    }));
}
