//! Who sends what to whom, and what each receiver got: the bookkeeping behind "lost" and "duplicated",
//! kept free of I/O so it is tested on its own.
//!
//! Message `g` (0-based, `g < messages`) is sent by member `g % members`, whose room is
//! `member % rooms`; its `client_id` is `m{g}`. A receiver counts each message of its room once; a second
//! copy is a duplicate, a message of another room (or an unknown id) is unexpected, and whatever its room
//! sent that never arrived is lost.

/// The traffic plan of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Connections in rooms, every one of them sending.
    pub members: usize,
    pub rooms: usize,
    /// Messages sent in all, across every member.
    pub messages: u64,
}

impl Plan {
    pub fn room_of(&self, member: usize) -> usize {
        member % self.rooms
    }

    pub fn room_name(room: usize) -> String {
        format!("load-{room}")
    }

    pub fn sender_of(&self, message: u64) -> usize {
        usize::try_from(message % self.members as u64).expect("fits: below `members`")
    }

    /// The messages `member` sends, in order.
    pub fn messages_of(&self, member: usize) -> impl Iterator<Item = u64> {
        (member as u64..self.messages).step_by(self.members)
    }

    pub fn room_size(&self, room: usize) -> usize {
        self.members / self.rooms + usize::from(room < self.members % self.rooms)
    }

    /// Deliveries owed when member `k` managed to send `sent[k]` of its messages: each reaches its whole
    /// room, the sender included.
    pub fn expected_deliveries(&self, sent: &[u64]) -> u64 {
        sent.iter()
            .enumerate()
            .map(|(member, &n)| n * self.room_size(self.room_of(member)) as u64)
            .sum()
    }

    /// Messages `receiver` is owed: everything its room sent.
    pub fn expected_by(&self, receiver: usize, sent: &[u64]) -> u64 {
        let room = self.room_of(receiver);
        sent.iter()
            .enumerate()
            .filter(|&(member, _)| self.room_of(member) == room)
            .map(|(_, &n)| n)
            .sum()
    }
}

/// The `client_id` of message `g`.
pub fn client_id(message: u64) -> String {
    format!("m{message}")
}

/// The message number in a `client_id`, if it is one of ours.
pub fn message_number(client_id: &str) -> Option<u64> {
    client_id.strip_prefix('m')?.parse().ok()
}

/// What a receiver made of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    First,
    Duplicate,
    /// Not a message of this receiver's room.
    Unexpected,
}

/// One receiver's record: a bit per message of the run.
#[derive(Debug, Clone)]
pub struct Tally {
    seen: Vec<u64>,
    messages: u64,
    pub unique: u64,
    pub duplicated: u64,
    pub unexpected: u64,
}

impl Tally {
    pub fn new(messages: u64) -> Self {
        Self {
            seen: vec![0; usize::try_from(messages.div_ceil(64)).expect("fits in memory")],
            messages,
            unique: 0,
            duplicated: 0,
            unexpected: 0,
        }
    }

    /// Records a delivery of `message`; `ours` says whether it belongs to this receiver's room.
    pub fn record(&mut self, message: Option<u64>, ours: impl FnOnce(u64) -> bool) -> Seen {
        let Some(g) = message.filter(|&g| g < self.messages && ours(g)) else {
            self.unexpected += 1;
            return Seen::Unexpected;
        };
        let (word, bit) = ((g / 64) as usize, 1u64 << (g % 64));
        if self.seen[word] & bit != 0 {
            self.duplicated += 1;
            Seen::Duplicate
        } else {
            self.seen[word] |= bit;
            self.unique += 1;
            Seen::First
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Members spread round-robin over rooms; every message has exactly one sender and one room.
    #[test]
    fn the_plan_splits_members_and_messages_evenly() {
        let plan = Plan {
            members: 10,
            rooms: 3,
            messages: 25,
        };
        assert_eq!(
            (0..3).map(|r| plan.room_size(r)).collect::<Vec<_>>(),
            [4, 3, 3]
        );
        let mut all: Vec<u64> = (0..10).flat_map(|m| plan.messages_of(m)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..25).collect::<Vec<_>>());
        assert!(plan.messages_of(3).all(|g| plan.sender_of(g) == 3));
        let sent: Vec<u64> = (0..10)
            .map(|m| plan.messages_of(m).count() as u64)
            .collect();
        // Room 0 (members 0,3,6,9) sends 3+3+2+2 messages to its 4 members.
        assert_eq!(plan.expected_by(0, &sent), 10);
        assert_eq!(plan.expected_deliveries(&sent), 10 * 4 + 8 * 3 + 7 * 3);
    }

    /// A second copy is a duplicate, another room's message or a stranger's id is unexpected.
    #[test]
    fn the_tally_tells_first_copies_from_duplicates_and_strangers() {
        let mut tally = Tally::new(100);
        let ours = |g: u64| g.is_multiple_of(2);
        assert_eq!(tally.record(Some(4), ours), Seen::First);
        assert_eq!(tally.record(Some(4), ours), Seen::Duplicate);
        assert_eq!(tally.record(Some(5), ours), Seen::Unexpected);
        assert_eq!(tally.record(Some(100), ours), Seen::Unexpected);
        assert_eq!(tally.record(None, ours), Seen::Unexpected);
        assert_eq!(tally.record(Some(98), ours), Seen::First);
        assert_eq!(
            (tally.unique, tally.duplicated, tally.unexpected),
            (2, 1, 3)
        );
        assert_eq!(message_number(&client_id(98)), Some(98));
        assert_eq!(message_number("c-1"), None);
    }
}
