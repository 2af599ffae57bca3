//! Queue envelopes: what travels on the command queue (gateway → registry) and the delivery queue
//! (registry → sender). SQS delivers at least once, so every consumer must treat a repeat as harmless.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    client::ClientFrame, ids::ConnectionId, limits::json_len, server::ServerFrame, server::User,
};

/// Work for the registry, the only component that holds state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// A connection was authorised and opened.
    Connect {
        connection_id: ConnectionId,
        user: User,
    },
    /// A connection closed (`$disconnect`).
    Disconnect { connection_id: ConnectionId },
    /// A validated frame from a connection, with the user the authorizer vouched for.
    Frame {
        connection_id: ConnectionId,
        user: User,
        frame: ClientFrame,
        #[serde(with = "time::serde::rfc3339")]
        received_at: OffsetDateTime,
    },
    /// Posting to this connection answered 410 Gone: it is stale, forget it as if it had disconnected.
    Forget { connection_id: ConnectionId },
    /// An operator signs a person out everywhere (`cargo xtask kick`): every connection of theirs is told
    /// `signed_out` and closed, and new ones are refused until `until` (when their last ID token expires).
    Kick {
        user_id: String,
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
}

impl Command {
    /// The connection the command is about (a `kick` is about a person, not one connection).
    pub fn connection_id(&self) -> Option<&ConnectionId> {
        match self {
            Self::Connect { connection_id, .. }
            | Self::Disconnect { connection_id }
            | Self::Frame { connection_id, .. }
            | Self::Forget { connection_id } => Some(connection_id),
            Self::Kick { .. } => None,
        }
    }
}

/// One frame for a set of connections. The sender serialises the frame once and posts the same bytes to
/// every recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub recipients: Vec<ConnectionId>,
    pub frame: ServerFrame,
    /// How many times these recipients were already tried and could not be reached (neither delivered
    /// nor gone): 0 for a fresh delivery, one more each time the sender queues it again. The sender gives
    /// up after its limit, so an unreachable connection cannot circle forever.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// After the frame, close each recipient's connection (API Gateway's `DeleteConnection`): a connection
    /// refused as a whole, such as one past the person's connection cap.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub close: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Delivery {
    /// A fresh delivery of `frame` to `recipients`.
    pub fn new(recipients: Vec<ConnectionId>, frame: ServerFrame) -> Self {
        Self {
            recipients,
            frame,
            retries: 0,
            close: false,
        }
    }

    /// The same delivery, closing each recipient's connection after the frame.
    #[must_use]
    pub fn and_close(self) -> Self {
        Self {
            close: true,
            ..self
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("deliveries always serialise")
    }

    /// Splits the delivery into as few deliveries as possible whose JSON is at most `max_bytes` each and
    /// that name at most `max_recipients` each, dividing the recipients. A frame that does not fit even with
    /// one recipient is returned whole, one recipient per delivery, for the queue adapter to refuse loudly.
    /// Measures the frame once and each recipient once; serialises nothing.
    pub fn split_to_fit(mut self, max_bytes: usize, max_recipients: usize) -> Vec<Delivery> {
        let max_recipients = max_recipients.max(1);
        let recipients = std::mem::take(&mut self.recipients);
        let frame_only = json_len(&self);
        // Each recipient's share: its JSON string and a separating comma (n ids have n - 1 commas).
        let costs: Vec<usize> = recipients.iter().map(|id| json_len(id) + 1).collect();
        let whole = frame_only + costs.iter().sum::<usize>() - usize::from(!costs.is_empty());
        if (whole <= max_bytes && recipients.len() <= max_recipients) || recipients.len() <= 1 {
            self.recipients = recipients;
            return vec![self];
        }
        let mut parts = Vec::new();
        let mut current = Vec::new();
        let mut size = frame_only - 1;
        for (recipient, cost) in recipients.into_iter().zip(costs) {
            if !current.is_empty() && (size + cost > max_bytes || current.len() == max_recipients) {
                parts.push(std::mem::take(&mut current));
                size = frame_only - 1;
            }
            size += cost;
            current.push(recipient);
        }
        parts.push(current);
        parts
            .into_iter()
            .map(|recipients| Delivery {
                recipients,
                ..self.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        limits::{MAX_QUEUE_MESSAGE_BYTES, MAX_RECIPIENTS_PER_DELIVERY},
        server::ErrorCode,
    };

    #[test]
    fn large_fan_outs_split_under_the_queue_limit_without_losing_anyone() {
        let recipients: Vec<_> = (0..30_000)
            .map(|i| ConnectionId(format!("Abc{i:013}xyz=")))
            .collect();
        let delivery = Delivery::new(
            recipients.clone(),
            ServerFrame::error(ErrorCode::Internal, None),
        );
        assert!(delivery.to_json().len() > MAX_QUEUE_MESSAGE_BYTES);
        let parts = delivery.split_to_fit(MAX_QUEUE_MESSAGE_BYTES, usize::MAX);
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(part.to_json().len() <= MAX_QUEUE_MESSAGE_BYTES);
        }
        let rejoined: Vec<_> = parts.into_iter().flat_map(|p| p.recipients).collect();
        assert_eq!(rejoined, recipients);
    }

    #[test]
    fn sizes_are_measured_to_the_byte() {
        let delivery = Delivery {
            retries: 3,
            ..Delivery::new(
                (0..50).map(|i| ConnectionId(format!("c\"{i}"))).collect(),
                ServerFrame::error(ErrorCode::Internal, Some("é\n".into())),
            )
        };
        let exact = delivery.to_json().len();
        assert_eq!(
            delivery.clone().split_to_fit(exact, usize::MAX),
            vec![delivery.clone()]
        );
        let limit = exact - 1;
        let parts = delivery.split_to_fit(limit, usize::MAX);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.to_json().len() <= limit));
        assert!(parts.iter().all(|p| p.retries == 3));
        // The first part is filled as far as the limit allows: one more id (8 bytes) would not fit.
        assert!(parts[0].to_json().len() + 8 > limit);
    }

    #[test]
    fn a_big_room_splits_into_bounded_recipient_lists() {
        let recipients: Vec<_> = (0..1_000).map(|i| ConnectionId(format!("c{i}"))).collect();
        let delivery = Delivery::new(recipients.clone(), ServerFrame::Pong);
        let parts = delivery.split_to_fit(MAX_QUEUE_MESSAGE_BYTES, MAX_RECIPIENTS_PER_DELIVERY);
        assert_eq!(parts.len(), 4);
        assert!(parts
            .iter()
            .all(|p| p.recipients.len() == MAX_RECIPIENTS_PER_DELIVERY));
        let rejoined: Vec<_> = parts.into_iter().flat_map(|p| p.recipients).collect();
        assert_eq!(rejoined, recipients);
    }

    #[test]
    fn small_deliveries_stay_whole() {
        let delivery = Delivery::new(
            vec![ConnectionId("a".into()), ConnectionId("b".into())],
            ServerFrame::Pong,
        );
        assert_eq!(
            delivery
                .clone()
                .split_to_fit(MAX_QUEUE_MESSAGE_BYTES, usize::MAX),
            vec![delivery]
        );
    }
}
