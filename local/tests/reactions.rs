//! Reactions end to end over real WebSockets against `chatty-local`, once in memory and once on a real
//! `redis-server`: a reaction reaches everyone in the room, the reactor's own devices learn it is theirs
//! (the others get the same version without saying whose), a repeat from another device changes nothing,
//! a new device reads its own reactions in history, and an outsider or an emoji outside the set is refused.

mod common;
#[path = "../../lambdas/tests/common/mod.rs"]
mod servers;

use chatty_local::{Running, Settings};
use common::{connect, gateway_on, Client};
use protocol::{ChatMessage, Emoji, ErrorCode, ServerFrame};
use serde_json::json;

/// A gateway on each registry: memory, then a fresh `redis-server` (kept alive with it).
async fn gateways() -> Vec<(&'static str, Running, Option<servers::Server>)> {
    let memory = gateway_on(Settings::default()).await;
    let server = servers::redis_server();
    let redis = gateway_on(Settings {
        redis_url: Some(server.redis_url()),
        ..Settings::default()
    })
    .await;
    vec![("memory", memory, None), ("redis", redis, Some(server))]
}

/// `name` on a new connection, in `lunch`.
async fn in_lunch(gateway: &Running, name: &str) -> Client {
    let mut client = connect(gateway, name).await;
    client.join("lunch").await;
    client
}

/// The next `changed` frame's message.
async fn next_changed(client: &mut Client) -> ChatMessage {
    match client
        .recv_until(|f| matches!(f, ServerFrame::Changed(_)))
        .await
    {
        ServerFrame::Changed(message) => message,
        _ => unreachable!(),
    }
}

/// The next error frame's code.
async fn next_refusal(client: &mut Client) -> ErrorCode {
    match client
        .recv_until(|f| matches!(f, ServerFrame::Error { .. }))
        .await
    {
        ServerFrame::Error { code, .. } => code,
        _ => unreachable!(),
    }
}

/// Ada, on her laptop and her phone, reacts to Grace's message: all three connections get the new
/// version with the count and Ada's name, and only Ada's two say it is hers. The same reaction again from
/// her phone is a setting already so: the same version, the same change number. A third device of hers
/// reads it as hers in history; Eve, not in the room, and an emoji outside the set are refused.
#[tokio::test]
async fn a_reaction_reaches_the_room_and_its_reactor_knows_it_is_theirs() {
    for (store, gw, _redis) in gateways().await {
        let mut grace = in_lunch(&gw, "grace").await;
        let mut laptop = in_lunch(&gw, "ada").await;
        let mut phone = in_lunch(&gw, "ada").await;
        let mut eve = connect(&gw, "eve").await;
        grace.say("lunch", "g-1", "noodles?").await;
        let id = grace.next_message().await.id;
        for ada in [&mut laptop, &mut phone] {
            assert_eq!(ada.next_message().await.id, id);
        }

        let react =
            json!({"action": "react", "room": "lunch", "id": id, "emoji": "🎉", "on": true});
        laptop.send_json(react.clone()).await;
        let seen = next_changed(&mut grace).await;
        assert_eq!(seen.mine, None, "{store}: grace is not told whose it is");
        assert_eq!(seen.reactions.len(), 1, "{store}");
        assert_eq!(
            (seen.reactions[0].emoji, seen.reactions[0].count),
            (Emoji::Party, 1)
        );
        assert_eq!(seen.reactions[0].users[0].name, "ada", "{store}");
        for ada in [&mut laptop, &mut phone] {
            let own = next_changed(ada).await;
            assert_eq!(own.mine, Some(vec![Emoji::Party]), "{store}");
            assert_eq!((&own.reactions, own.rev), (&seen.reactions, seen.rev));
        }

        phone.send_json(react).await;
        let again = next_changed(&mut phone).await;
        assert_eq!(again.rev, seen.rev, "{store}: a repeat changes nothing");
        assert_eq!(again.reactions, seen.reactions, "{store}");

        let mut tablet = in_lunch(&gw, "ada").await;
        tablet
            .send_json(json!({"action": "history", "room": "lunch"}))
            .await;
        let page = tablet
            .recv_until(|f| matches!(f, ServerFrame::History { .. }))
            .await;
        let ServerFrame::History { messages, .. } = page else {
            unreachable!()
        };
        assert_eq!(messages[0].mine, Some(vec![Emoji::Party]), "{store}");

        eve.send_json(
            json!({"action": "react", "room": "lunch", "id": id, "emoji": "👍", "on": true}),
        )
        .await;
        assert_eq!(
            next_refusal(&mut eve).await,
            ErrorCode::NotAMember,
            "{store}"
        );
        grace
            .send_json(
                json!({"action": "react", "room": "lunch", "id": id, "emoji": "🍕", "on": true}),
            )
            .await;
        assert_eq!(
            next_refusal(&mut grace).await,
            ErrorCode::InvalidEmoji,
            "{store}"
        );
    }
}
