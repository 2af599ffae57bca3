//! What one person's name and words can do to everyone else's screen: the server cleans the display name
//! of every verified token, whichever identity provider wrote it, and the bidi overrides out of every body,
//! so what a room shows is what was written (`protocol::text`, PROTOCOL.md "Names and bodies").

mod common;

use std::time::Duration;

use common::{alice_and_bob_in, connect, connect_with_token, gateway, names, token, Client};
use protocol::ServerFrame;

/// Connects with a token whose `name` claim is `claimed`, signed with the gateway's own key, as if an
/// identity provider had sent that name unchecked; returns the client and its user id.
async fn connect_claiming(gw: &chatty_local::Running, claimed: &str) -> (Client, String) {
    let claims = gw.signin.id_claims(claimed, Duration::from_secs(3600));
    assert_eq!(claims.name, claimed, "the local key signs any name");
    let token = gw.signin.sign(&claims);
    let client = connect_with_token(gw, "someone", &token).await.unwrap();
    (client, claims.sub)
}

/// A name from the local sign-in with a right-to-left override and a zero-width space reaches the room
/// without them: the presence frame carries the name as it renders.
#[tokio::test]
async fn presence_carries_the_cleaned_name() {
    let gw = gateway().await;
    let spoof = token(&gw, "Ma\u{200B}llory\u{202E}").await;
    let mut mallory = connect_with_token(&gw, "mallory", &spoof).await.unwrap();
    let mut bob = connect(&gw, "bob").await;
    bob.join("general").await;
    mallory.join("general").await;
    let seen = bob
        .recv_until(|f| matches!(f, ServerFrame::Presence { members, .. } if members.len() == 2))
        .await;
    let ServerFrame::Presence { members, .. } = seen else {
        unreachable!()
    };
    let mut shown = names(&members);
    shown.sort();
    assert_eq!(shown, ["Mallory", "bob"]);
}

/// Names that only a hostile or careless identity provider would send (an email address, nothing
/// visible, 100 characters, an isolate around a look-alike) are cleaned by the verifier too: the email and
/// the invisible name become the person's stable guest name, the long one is cut to 64 characters.
#[tokio::test]
async fn hostile_claims_are_cleaned_by_the_verifier() {
    let gw = gateway().await;
    let long = "W".repeat(100);
    for (claimed, expected) in [
        ("mallory@example.com", None),
        ("\u{FEFF}\u{3164}\u{200D}", None),
        (long.as_str(), Some("W".repeat(64))),
        ("\u{2067}bob\u{2069}\t\n", Some("bob".to_owned())),
    ] {
        let (mut client, id) = connect_claiming(&gw, claimed).await;
        let members = client.join("general").await;
        let me = members.iter().find(|m| m.id == id).unwrap();
        let expected = expected.unwrap_or_else(|| protocol::display_name(None, &id));
        assert_eq!(me.name, expected, "{claimed:?}");
        assert!(!me.name.contains('@'), "{claimed:?}");
        client.close().await;
    }
}

/// A body's direction overrides and isolates are removed before anyone sees it, the sender's own
/// confirmation included; the rest of the body is kept.
#[tokio::test]
async fn bodies_lose_bidi_overrides() {
    let gw = gateway().await;
    let (mut alice, mut bob) = alice_and_bob_in(&gw, "general").await;
    alice
        .say(
            "general",
            "a-1",
            "invoice\u{202E}fdp.exe\u{202C} \u{2066}ok\u{2069}",
        )
        .await;
    let confirmed = alice.next_message().await;
    let received = bob.next_message().await;
    assert_eq!(received.body, "invoicefdp.exe ok");
    assert_eq!(confirmed, received);
}
