//! Proves that every JSON example in `PROTOCOL.md` parses as the type its fence names, and survives a
//! round trip, so the document stays true to the code.

use protocol::{AppConfig, ClientFrame, Command, Delivery, ServerFrame};
use serde_json::Value;

fn examples(tag: &str) -> Vec<String> {
    let doc = include_str!("../PROTOCOL.md");
    let fence = format!("```json {tag}\n");
    doc.split(&fence)
        .skip(1)
        .map(|rest| rest.split("\n```").next().unwrap().to_owned())
        .collect()
}

fn round_trips<T: serde::Serialize + serde::de::DeserializeOwned>(tag: &str, text: &str) {
    let value: T =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{tag} example {text}: {e}"));
    let again: Value = serde_json::to_value(&value).unwrap();
    let back: T = serde_json::from_value(again).unwrap();
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(&value).unwrap()
    );
}

/// Every client frame example passes the server's own parser and validation.
#[test]
fn client_examples_parse_and_validate() {
    let all = examples("client");
    assert_eq!(all.len(), 18);
    let mut actions: Vec<_> = all
        .iter()
        .map(|text| {
            ClientFrame::parse(text)
                .unwrap_or_else(|e| panic!("{text}: {e}"))
                .action()
        })
        .collect();
    actions.dedup();
    assert_eq!(actions, protocol::client::ACTIONS);
}

/// Every server frame type has an example, and each parses.
#[test]
fn server_examples_parse() {
    let all = examples("server");
    let types: Vec<String> = all
        .iter()
        .map(|text| {
            round_trips::<ServerFrame>("server", text);
            serde_json::from_str::<Value>(text).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "message",
            "history",
            "history",
            "presence",
            "rooms",
            "typing",
            "error",
            "error",
            "error",
            "pong",
            "changed",
            "changed",
            "invite_link",
            "redeemed",
            "error"
        ]
    );
}

/// The refusal of an invite link shown in the document is, byte for byte, the one the code sends.
#[test]
fn the_invalid_invite_example_is_the_frame_sent() {
    let example = examples("server")
        .into_iter()
        .find(|text| text.contains("invalid_invite"))
        .expect("an invalid_invite example");
    let sent = ServerFrame::error(protocol::ErrorCode::InvalidInvite, None).to_json();
    assert_eq!(example, sent);
}

/// The queue envelope and config examples parse.
#[test]
fn envelope_and_config_examples_parse() {
    let commands = examples("command");
    assert_eq!(commands.len(), 5);
    for text in &commands {
        round_trips::<Command>("command", text);
    }
    for text in examples("delivery") {
        round_trips::<Delivery>("delivery", &text);
    }
    for text in examples("config") {
        round_trips::<AppConfig>("config", &text);
    }
}
