//! Private rooms, direct conversations and the per-person list, end to end over real WebSockets against
//! `chatty-local`, once in memory and once on a real `redis-server`: an outsider cannot tell a private
//! room from one that does not exist, an invitation reaches every device of the invited person, a direct
//! conversation is one room from either side, and read positions follow the person to a new device.

mod common;

use chatty_local::Running;
use common::{connect, gateways, Client};
use protocol::{ErrorCode, MessageId, RoomEntry, RoomName, ServerFrame, User};
use serde_json::json;

/// `name`, connected and in `general`, with their user as the others see it.
async fn in_general(gateway: &Running, name: &str) -> (Client, User) {
    let mut client = connect(gateway, name).await;
    let members = client.join("general").await;
    let me = members
        .into_iter()
        .find(|m| m.name == name)
        .expect("the joiner is in the presence");
    (client, me)
}

/// The next `rooms` frame's entries.
async fn next_list(client: &mut Client) -> Vec<RoomEntry> {
    match client
        .recv_until(|f| matches!(f, ServerFrame::Rooms { .. }))
        .await
    {
        ServerFrame::Rooms { rooms, .. } => rooms,
        _ => unreachable!(),
    }
}

/// The next error frame.
async fn next_error(client: &mut Client) -> ServerFrame {
    client
        .recv_until(|f| matches!(f, ServerFrame::Error { .. }))
        .await
}

fn listed(rooms: &[RoomEntry]) -> Vec<&str> {
    rooms.iter().map(|entry| entry.room.as_str()).collect()
}

/// Ada's private room: Eve (outside it) is answered exactly as for a private name nobody created, when
/// she joins, invites to or reads it, and never sees its presence or messages; Grace, invited, learns of
/// it on both her devices, joins from one and reads what was written before.
#[tokio::test]
async fn a_private_room_is_invisible_to_everyone_outside_it() {
    for (store, gw, _redis) in gateways().await {
        let (mut ada, ada_user) = in_general(&gw, "ada").await;
        let (mut grace, grace_user) = in_general(&gw, "grace").await;
        let mut grace_phone = connect(&gw, "grace").await;
        let (mut eve, _) = in_general(&gw, "eve").await;
        let plans = RoomName::private(&ada_user.id, "plans").unwrap();
        let missing = RoomName::private(&ada_user.id, "nothing-here").unwrap();

        ada.send_json(json!({"action": "create", "room": plans}))
            .await;
        ada.join(plans.as_str()).await;
        ada.say(plans.as_str(), "p-1", "the secret plan").await;
        ada.next_message().await;

        for frame in [
            json!({"action": "join", "room": plans}),
            json!({"action": "invite", "room": plans, "user": grace_user.id}),
        ] {
            eve.send_json(frame).await;
            let refused = next_error(&mut eve).await;
            assert_eq!(refused, ServerFrame::no_such_room(&plans), "{store}");
        }
        eve.send_json(json!({"action": "join", "room": missing}))
            .await;
        let for_missing = next_error(&mut eve).await;
        assert_eq!(for_missing, ServerFrame::no_such_room(&missing), "{store}");
        for room in [&plans, &missing] {
            eve.send_json(json!({"action": "history", "room": room}))
                .await;
            let refused = next_error(&mut eve).await;
            assert!(
                matches!(
                    refused,
                    ServerFrame::Error {
                        code: ErrorCode::NotAMember,
                        room: None,
                        ..
                    }
                ),
                "{store}: {refused:?}"
            );
        }
        eve.send_json(json!({"action": "create", "room": plans}))
            .await;
        let refused = next_error(&mut eve).await;
        assert!(
            matches!(
                refused,
                ServerFrame::Error {
                    code: ErrorCode::NotYourRoomName,
                    ..
                }
            ),
            "{store}: {refused:?}"
        );

        ada.send_json(json!({"action": "invite", "room": plans, "user": grace_user.id}))
            .await;
        for device in [&mut grace, &mut grace_phone] {
            let rooms = next_list(device).await;
            assert_eq!(listed(&rooms), [plans.as_str(), "general"], "{store}");
        }
        let members = grace_phone.join(plans.as_str()).await;
        assert_eq!(common::names(&members), ["ada", "grace"], "{store}");
        grace_phone
            .send_json(json!({"action": "history", "room": plans}))
            .await;
        let page = grace_phone
            .recv_until(|f| matches!(f, ServerFrame::History { .. }))
            .await;
        assert!(
            matches!(&page, ServerFrame::History { messages, .. } if messages.len() == 1 && messages[0].body == "the secret plan"),
            "{store}: {page:?}"
        );
        eve.expect_silence().await;
    }
}

/// A direct conversation: the same room whichever side opens it, listed on both sides with the other
/// person; a read position set on one device reaches the person's other devices, and a device that
/// connects later finds it in its list.
#[tokio::test]
async fn a_direct_conversation_and_its_read_position_follow_the_person() {
    for (store, gw, _redis) in gateways().await {
        let (mut ada, ada_user) = in_general(&gw, "ada").await;
        let (mut grace, grace_user) = in_general(&gw, "grace").await;
        let mut grace_tab = connect(&gw, "grace").await;
        let dm = RoomName::direct(&ada_user.id, &grace_user.id);

        ada.send_json(json!({"action": "dm", "user": grace_user.id}))
            .await;
        let ada_list = next_list(&mut ada).await;
        let grace_list = next_list(&mut grace).await;
        let entry = |rooms: &[RoomEntry]| rooms.iter().find(|e| e.room == dm).cloned();
        assert_eq!(
            entry(&ada_list).and_then(|e| e.with).map(|u| u.id),
            Some(grace_user.id.clone()),
            "{store}"
        );
        assert_eq!(
            entry(&grace_list).and_then(|e| e.with).map(|u| u.id),
            Some(ada_user.id.clone()),
            "{store}"
        );
        grace
            .send_json(json!({"action": "dm", "user": ada_user.id}))
            .await;
        assert_eq!(listed(&next_list(&mut grace).await), listed(&grace_list));

        ada.join(dm.as_str()).await;
        ada.say(dm.as_str(), "d-1", "psst").await;
        let message = ada.next_message().await;
        grace.join(dm.as_str()).await;
        grace
            .send_json(json!({"action": "read", "room": dm, "id": message.id}))
            .await;
        // The tab heard of the conversation twice (Ada's `dm`, Grace's); then of the read position.
        for _ in 0..2 {
            let earlier = next_list(&mut grace_tab).await;
            assert_eq!(entry(&earlier).and_then(|e| e.read), None, "{store}");
        }
        let on_tab = next_list(&mut grace_tab).await;
        assert_eq!(
            entry(&on_tab).and_then(|e| e.read),
            Some(message.id),
            "{store}"
        );
        // An older position changes nothing; a new device asks and finds the newest.
        grace
            .send_json(json!({"action": "read", "room": dm, "id": MessageId::new(1, 0)}))
            .await;
        let mut laptop = connect(&gw, "grace").await;
        laptop.send_json(json!({"action": "rooms"})).await;
        let fresh = next_list(&mut laptop).await;
        assert_eq!(listed(&fresh), [dm.as_str(), "general"], "{store}");
        assert_eq!(
            entry(&fresh).and_then(|e| e.read),
            Some(message.id),
            "{store}"
        );
        grace_tab.expect_silence().await;
    }
}

/// A single-use invite link: Ada asks for one (a retried request answers the same), Grace — who shares
/// no room with Ada — redeems it, gets the room on her list on both her devices, joins it and reads what
/// was written before; her repeat is let in again. Eve, redeeming the same link afterwards, a made-up
/// code or a string that is not even a code's shape, gets one and the same refusal, and joining the room
/// still answers what a missing room answers; asking for a link to Ada's room is `no_such_room` too.
#[tokio::test]
async fn an_invite_link_lets_one_person_in() {
    for (store, gw, _redis) in gateways().await {
        let (mut ada, ada_user) = in_general(&gw, "ada").await;
        let mut grace = connect(&gw, "grace").await;
        let mut grace_phone = connect(&gw, "grace").await;
        let mut eve = connect(&gw, "eve").await;
        let plans = RoomName::private(&ada_user.id, "plans").unwrap();
        ada.send_json(json!({"action": "create", "room": plans}))
            .await;
        ada.join(plans.as_str()).await;
        ada.say(plans.as_str(), "p-1", "the secret plan").await;
        ada.next_message().await;

        let ask = json!({"action": "invite_link", "room": plans, "client_id": "l-1"});
        let mut links = Vec::new();
        for _ in 0..2 {
            ada.send_json(ask.clone()).await;
            links.push(
                ada.recv_until(|f| matches!(f, ServerFrame::InviteLink { .. }))
                    .await,
            );
        }
        assert_eq!(links[0], links[1], "{store}: a retry answers the same link");
        let ServerFrame::InviteLink { code, .. } = links.remove(0) else {
            unreachable!()
        };

        for _ in 0..2 {
            grace
                .send_json(json!({"action": "redeem", "code": code}))
                .await;
            let answer = grace
                .recv_until(|f| matches!(f, ServerFrame::Redeemed { .. }))
                .await;
            assert_eq!(
                answer,
                ServerFrame::Redeemed {
                    room: plans.clone()
                },
                "{store}"
            );
        }
        let rooms = next_list(&mut grace_phone).await;
        assert_eq!(listed(&rooms), [plans.as_str()], "{store}");
        let members = grace.join(plans.as_str()).await;
        assert_eq!(common::names(&members), ["ada", "grace"], "{store}");
        grace
            .send_json(json!({"action": "history", "room": plans}))
            .await;
        let page = grace
            .recv_until(|f| matches!(f, ServerFrame::History { .. }))
            .await;
        assert!(
            matches!(&page, ServerFrame::History { messages, .. } if messages[0].body == "the secret plan"),
            "{store}: {page:?}"
        );

        let mut refusals = Vec::new();
        for code in [
            code.as_str(),
            "0123456789abcdef0123456789abcdef",
            "not even a code!",
        ] {
            eve.send_json(json!({"action": "redeem", "code": code}))
                .await;
            refusals.push(next_error(&mut eve).await);
        }
        let refused = ServerFrame::error(ErrorCode::InvalidInvite, None);
        assert_eq!(
            refusals,
            [refused.clone(), refused.clone(), refused],
            "{store}"
        );
        eve.send_json(json!({"action": "join", "room": plans}))
            .await;
        assert_eq!(
            next_error(&mut eve).await,
            ServerFrame::no_such_room(&plans),
            "{store}"
        );
        eve.send_json(json!({"action": "invite_link", "room": plans, "client_id": "e-1"}))
            .await;
        assert_eq!(
            next_error(&mut eve).await,
            ServerFrame::no_such_room(&plans),
            "{store}"
        );
    }
}
