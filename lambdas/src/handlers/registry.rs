//! The registry function (inside the VPC, the only code that reaches the store): applies one
//! [`Command`] to the registry and queues the [`Delivery`]s it causes. Safe to run twice for the same
//! command, as SQS may deliver it twice: joins and leaves are idempotent, and a repeated send is stored
//! once and fanned out once.

use protocol::{
    limits::{MAX_QUEUE_MESSAGE_BYTES, MAX_SERVER_FRAME_BYTES},
    ClientFrame, Command, ConnectionId, Delivery, ErrorCode, RoomName, ServerFrame, User,
};

use crate::ports::{
    Appended, HistoryPage, HistoryQuery, Member, NewMessage, Queue, QueueError, Registry,
    RegistryError,
};

#[derive(Debug, thiserror::Error)]
pub enum RegistryHandlerError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What a handled command did that operators count (see [`crate::metrics`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// A chat message was fanned out to its room (a new one, or one whose earlier fan-out never finished).
    MessageSent,
    /// Anything else.
    Done,
}

/// Applies `command` and queues what it causes.
pub async fn handle(
    registry: &dyn Registry,
    deliveries: &dyn Queue<Delivery>,
    command: Command,
) -> Result<Handled, RegistryHandlerError> {
    let mut handled = Handled::Done;
    match command {
        Command::Connect {
            connection_id,
            user,
        } => registry.connect(&connection_id, &user).await?,
        Command::Disconnect { connection_id } | Command::Forget { connection_id } => {
            let rooms = registry.disconnect(&connection_id).await?;
            let mut out = Vec::with_capacity(rooms.len());
            for room in rooms {
                out.push(presence(&room, &registry.members(&room).await?));
            }
            send(deliveries, out).await?;
        }
        Command::Frame {
            connection_id,
            user,
            frame,
            received_at,
        } => {
            let member = Member {
                connection_id,
                user,
            };
            match frame {
                ClientFrame::Join { room } => {
                    registry.join(&room, &member).await?;
                    let members = registry.members(&room).await?;
                    send(deliveries, vec![presence(&room, &members)]).await?;
                }
                ClientFrame::Leave { room } => {
                    if registry.leave(&room, &member.connection_id).await? {
                        let members = registry.members(&room).await?;
                        send(deliveries, vec![presence(&room, &members)]).await?;
                    }
                }
                ClientFrame::Send {
                    room,
                    client_id,
                    body,
                } => {
                    let sender = member.connection_id.clone();
                    let message = NewMessage {
                        room,
                        client_id,
                        author: member.user,
                        body,
                        sent_at: received_at,
                    };
                    let client_id = message.client_id.to_string();
                    match registry.append(&sender, message).await? {
                        Appended::NotAMember => {
                            let refusal =
                                ServerFrame::error(ErrorCode::NotAMember, Some(client_id));
                            send(deliveries, vec![to_one(sender, refusal)]).await?;
                        }
                        Appended::FanOut {
                            message,
                            recipients,
                        } => {
                            let frame = ServerFrame::Message(message.clone());
                            send(deliveries, vec![Delivery::new(recipients, frame)]).await?;
                            registry.mark_fanned_out(&message).await?;
                            handled = Handled::MessageSent;
                        }
                        Appended::AlreadySent { message } => {
                            // A retry of a message the room already has: confirm it to its sender only.
                            send(
                                deliveries,
                                vec![to_one(sender, ServerFrame::Message(message))],
                            )
                            .await?;
                        }
                    }
                }
                ClientFrame::Typing { room } => {
                    let members = registry.members(&room).await?;
                    let delivery = if members
                        .iter()
                        .any(|m| m.connection_id == member.connection_id)
                    {
                        let others = members
                            .into_iter()
                            .filter(|m| m.user.id != member.user.id)
                            .map(|m| m.connection_id)
                            .collect();
                        let frame = ServerFrame::Typing {
                            room,
                            user: member.user,
                        };
                        Delivery::new(others, frame)
                    } else {
                        let refusal = ServerFrame::error(ErrorCode::NotAMember, None);
                        to_one(member.connection_id, refusal)
                    };
                    send(deliveries, vec![delivery]).await?;
                }
                ClientFrame::History {
                    room,
                    before,
                    after,
                    limit,
                } => {
                    let limit = ClientFrame::history_limit(limit);
                    let query = match after {
                        Some(after) => HistoryQuery::After { after, limit },
                        None => HistoryQuery::Before { before, limit },
                    };
                    let page = registry.history(&room, query).await?;
                    let frame = history_frame(room, page, query);
                    send(deliveries, vec![to_one(member.connection_id, frame)]).await?;
                }
                // Answered by the gateway; never queued. Harmless if it ever is.
                ClientFrame::Ping => {}
            }
        }
    }
    Ok(handled)
}

/// The presence frame for a room: each person once, however many connections they hold, sorted by name.
pub fn presence(room: &RoomName, members: &[Member]) -> Delivery {
    let mut people: Vec<User> = Vec::new();
    for member in members {
        if !people.iter().any(|p| p.id == member.user.id) {
            people.push(member.user.clone());
        }
    }
    people.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    Delivery::new(
        members.iter().map(|m| m.connection_id.clone()).collect(),
        ServerFrame::Presence {
            room: room.clone(),
            members: people,
        },
    )
}

/// The history frame for a page, cut so it stays under API Gateway's 128 KB message limit. Cutting drops
/// the messages farthest from where the reader is (the oldest of a `before` page, the newest of an `after`
/// page) and sets `has_more`, so paging on fetches them.
pub fn history_frame(room: RoomName, page: HistoryPage, query: HistoryQuery) -> ServerFrame {
    let HistoryPage {
        mut messages,
        mut has_more,
    } = page;
    // Each message's share of the frame: its JSON plus a separating comma.
    let sizes: Vec<usize> = messages.iter().map(|m| protocol::json_len(m) + 1).collect();
    let empty = ServerFrame::History {
        room: room.clone(),
        messages: Vec::new(),
        has_more: true,
    }
    .to_json()
    .len();
    let mut total = empty + sizes.iter().sum::<usize>();
    let (mut first, mut last) = (0, messages.len());
    while last - first > 1 && total > MAX_SERVER_FRAME_BYTES {
        match query {
            HistoryQuery::Before { .. } => {
                total -= sizes[first];
                first += 1;
            }
            HistoryQuery::After { .. } => {
                last -= 1;
                total -= sizes[last];
            }
        }
        has_more = true;
    }
    messages.truncate(last);
    messages.drain(..first);
    ServerFrame::History {
        room,
        messages,
        has_more,
    }
}

fn to_one(connection_id: ConnectionId, frame: ServerFrame) -> Delivery {
    Delivery::new(vec![connection_id], frame)
}

/// Queues deliveries that have anyone to reach, each split to fit one queue message.
async fn send(deliveries: &dyn Queue<Delivery>, out: Vec<Delivery>) -> Result<(), QueueError> {
    let out: Vec<Delivery> = out
        .into_iter()
        .filter(|d| !d.recipients.is_empty())
        .flat_map(|d| d.split_to_fit(MAX_QUEUE_MESSAGE_BYTES))
        .collect();
    if out.is_empty() {
        return Ok(());
    }
    deliveries.send_all(out).await
}
