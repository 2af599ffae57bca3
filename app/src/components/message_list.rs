//! The conversation (`role="log"`): messages grouped by author with day separators and the "new
//! messages" line, then this person's pending messages (sending, or failed with Retry). It follows new
//! messages only while the reader is at the bottom; a reader who scrolled up keeps their place and gets
//! a "new messages" button instead, and one at the bottom stays there when the screen changes size.
//! Scrolling near the top loads the previous page, keeping the view where it was. Mentions of known
//! people stand out in the text, and a message that mentions the reader is highlighted. Under each
//! message, its reactions: a chip per emoji (toggled with a click, naming who reacted on hover) and a
//! picker to add one.

use leptos::{html::Div, prelude::*};
use protocol::{ChatMessage, Emoji, Reaction, RoomName};
use time::{OffsetDateTime, UtcOffset};

use crate::{
    auth_flow::Auth,
    client::ChatClient,
    components::avatar::Avatar,
    display::{clock, rfc3339, rows, who_reacted, Row},
    markup::{self, Emphasis, Span},
    mention::People,
    outbox::{PendingMessage, PendingStatus},
};

/// Within this many pixels of the bottom counts as "at the bottom".
const BOTTOM_SLACK: i32 = 48;
/// Closer than this to the top loads the previous page.
const TOP_SLACK: i32 = 240;

/// What the list shows around the messages: how far the room's history has loaded, and how many
/// messages the reader has not seen.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct LogStatus {
    /// The first page has arrived.
    loaded: bool,
    /// Older messages exist on the server.
    has_older: bool,
    /// A page of older messages is on its way.
    loading_older: bool,
    /// Messages that arrived while the reader was not looking at the bottom.
    unread: u32,
}

#[component]
pub fn MessageList(room: RoomName) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let auth = expect_context::<Auth>();
    let me = auth
        .session
        .with_untracked(|s| s.as_ref().map(|s| s.sub.clone()).unwrap_or_default());
    let offset = local_offset();
    let today = OffsetDateTime::from_unix_timestamp_nanos((js_sys::Date::now() * 1e6) as i128)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset)
        .date();
    let rows = {
        let room = room.clone();
        Memo::new(move |_| {
            client.state.with(|s| {
                s.room(&room)
                    .map(|r| rows(r.messages(), r.marker, offset, today))
                    .unwrap_or_default()
            })
        })
    };
    let log_status = {
        let room = room.clone();
        Memo::new(move |_| {
            client.state.with(|s| {
                s.room(&room)
                    .map(|r| LogStatus {
                        loaded: r.loaded,
                        has_older: r.has_older,
                        loading_older: r.loading_older,
                        unread: r.unread,
                    })
                    .unwrap_or_default()
            })
        })
    };
    let pending = {
        let room = room.clone();
        let me = me.clone();
        Memo::new(move |_| {
            let last_is_mine =
                rows.with(|r| r.last().is_some_and(|row| row.message.author.id == me));
            client.outbox.with(|o| {
                o.for_room(&room)
                    .enumerate()
                    .map(|(i, m)| (m.clone(), i == 0 && !last_is_mine))
                    .collect::<Vec<_>>()
            })
        })
    };
    let log = NodeRef::<Div>::new();
    let at_bottom = RwSignal::new(true);
    // Distance from the bottom when an older page was asked for, to restore the view when it arrives.
    let anchor = StoredValue::new(None::<i32>);
    let pending_seen = StoredValue::new(0usize);

    let request_older = {
        let room = room.clone();
        move || {
            let LogStatus {
                loaded,
                has_older,
                loading_older,
                ..
            } = log_status.get_untracked();
            if !loaded || !has_older || loading_older {
                return;
            }
            if let Some(el) = log.get_untracked() {
                anchor.set_value(Some(el.scroll_height() - el.scroll_top()));
                client.load_older(&room);
            }
        }
    };
    let on_scroll = {
        let request_older = request_older.clone();
        move |_| {
            let Some(el) = log.get_untracked() else {
                return;
            };
            let bottom = el.scroll_height() - el.scroll_top() - el.client_height() < BOTTOM_SLACK;
            if bottom != at_bottom.get_untracked() {
                at_bottom.set(bottom);
                client.set_watching(bottom);
            }
            if el.scroll_top() < TOP_SLACK {
                request_older();
            }
        }
    };
    // After every change of what is listed: keep the reader's place, or follow the bottom. The DOM is
    // measured in the next animation frame, once the list has been updated, and before it is painted.
    Effect::new(move |_| {
        rows.track();
        let pending_now = pending.with(Vec::len);
        let LogStatus {
            has_older,
            loading_older,
            ..
        } = log_status.get();
        let Some(el) = log.get() else { return };
        let sent_more = pending_now > pending_seen.get_value();
        pending_seen.set_value(pending_now);
        let request_older = request_older.clone();
        request_animation_frame(move || {
            // The room may have been left before the frame came.
            let Some(following) = at_bottom.try_get_untracked() else {
                return;
            };
            match anchor.get_value() {
                Some(from_bottom) if !loading_older => {
                    el.set_scroll_top(el.scroll_height() - from_bottom);
                    anchor.set_value(None);
                }
                _ if following || sent_more => el.set_scroll_top(el.scroll_height()),
                _ => {}
            }
            // A short history may not fill the screen, so no scrolling would ever ask for more.
            if has_older && !loading_older && el.scroll_height() <= el.client_height() {
                request_older();
            }
        });
    });
    // A hidden tab is not read: what arrives meanwhile counts as new, and gets the "new messages" line.
    let visibility = window_event_listener_untyped("visibilitychange", move |_| {
        let hidden = document().hidden();
        client.set_watching(!hidden && at_bottom.get_untracked());
    });
    on_cleanup(move || visibility.remove());
    let to_bottom = move || {
        if let Some(el) = log.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    };
    // A reader at the bottom stays there when the screen changes size (a phone turned, a window narrowed).
    let resize = window_event_listener_untyped("resize", move |_| {
        if at_bottom.get_untracked() {
            to_bottom();
        }
    });
    on_cleanup(move || resize.remove());
    let jump = move |_| to_bottom();
    let room_label = format!("Messages in #{room}");
    let beginning = format!("This is the very beginning of #{room}.");
    view! {
        <div class="log-wrap">
            <div class="log" role="log" aria-label=room_label aria-live="polite" tabindex="0"
                node_ref=log on:scroll=on_scroll>
                <div class="log-top">
                    {move || {
                        let LogStatus { loaded, has_older, .. } = log_status.get();
                        if !loaded {
                            view! { <p class="muted" aria-busy="true">"Loading messages…"</p> }.into_any()
                        } else if has_older {
                            view! { <p class="muted" aria-busy="true">"Loading earlier messages…"</p> }.into_any()
                        } else {
                            view! { <p class="beginning">{beginning.clone()}</p> }.into_any()
                        }
                    }}
                </div>
                <For each=move || rows.get()
                    key=|row| (row.message.id, row.message.rev, row.starts_group, row.day.clone(), row.new_line)
                    let:row>
                    <MessageRow row offset/>
                </For>
                <For each=move || pending.get()
                    key=|(m, first)| (m.client_id.clone(), m.status.clone(), *first)
                    let:item>
                    <PendingRow message=item.0 first=item.1/>
                </For>
            </div>
            <Show when=move || { !at_bottom.get() && log_status.get().unread > 0 }>
                <button class="jump" on:click=jump>
                    {move || match log_status.get().unread {
                        1 => "1 new message ↓".to_owned(),
                        n => format!("{n} new messages ↓"),
                    }}
                </button>
            </Show>
        </div>
    }
}

/// A confirmed message, with the day separator and "new messages" line that may precede it; the
/// person's own messages offer Edit and Delete, and one that mentions the reader is highlighted.
#[component]
fn MessageRow(row: Row, offset: UtcOffset) -> impl IntoView {
    let Row {
        message,
        starts_group,
        day,
        new_line,
    } = row;
    let mine = expect_context::<Auth>()
        .session
        .with_untracked(|s| s.as_ref().is_some_and(|s| s.sub == message.author.id));
    let client = expect_context::<ChatClient>();
    let mentioned =
        !mine && people(client, &message.room, &message.body).names_reader(&message.body);
    let time = clock(message.sent_at, offset);
    let stamp = rfc3339(message.sent_at);
    view! {
        {day.map(|day| view! { <div class="day" role="separator"><span>{day}</span></div> })}
        {new_line.then(|| view! { <div class="new-line" role="separator"><span>"New messages"</span></div> })}
        <article class="msg" class:first=starts_group class:mentioned=mentioned>
            {if starts_group {
                view! { <Avatar user=message.author.clone()/> }.into_any()
            } else {
                view! { <time class="gutter-time" datetime=stamp.clone()>{time.clone()}</time> }.into_any()
            }}
            <div class="msg-main">
                {starts_group.then(|| view! {
                    <div class="msg-meta">
                        <span class="author">{message.author.name.clone()}</span>
                        <time datetime=stamp>{time}</time>
                    </div>
                })}
                {mentioned.then(|| view! { <span class="visually-hidden">"Mentions you"</span> })}
                <MessageContent message=message.clone() mine/>
                {(!message.deleted).then(|| view! { <Reactions message=message.clone()/> })}
            </div>
        </article>
    }
}

/// A message's reactions: a chip per emoji reacted with (its count; who reacted, in its `title`;
/// pressed when this person is among them, and a click takes theirs back or adds it), and a button that
/// opens the set to add one.
#[component]
fn Reactions(message: ChatMessage) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let ChatMessage {
        room,
        id,
        reactions,
        ..
    } = message;
    let none = reactions.is_empty();
    let picking = RwSignal::new(false);
    let chips = reactions
        .into_iter()
        .map(|reaction| {
            let room = room.clone();
            view! { <ReactionChip room id reaction/> }
        })
        .collect_view();
    let choices = {
        let room = room.clone();
        move || {
            Emoji::ALL
                .into_iter()
                .map(|emoji| {
                    let room = room.clone();
                    let label = format!("React with {emoji}");
                    view! {
                        <button class="reaction-choice" role="menuitem" aria-label=label.clone()
                            title=label
                            on:click=move |_| {
                                client.react(&room, id, emoji, true);
                                picking.set(false);
                            }>
                            {emoji.as_str()}
                        </button>
                    }
                })
                .collect_view()
        }
    };
    view! {
        <div class="reactions" class:none=none on:mouseleave=move |_| picking.set(false)
            on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { picking.set(false) }>
            {chips}
            <span class="reaction-add">
                <button class="reaction add" aria-label="Add a reaction" title="Add a reaction"
                    aria-haspopup="menu" aria-expanded=move || picking.get().to_string()
                    on:click=move |_| picking.update(|p| *p = !*p)>
                    <svg viewBox="0 0 20 20" aria-hidden="true">
                        <circle cx="9" cy="10" r="7"/>
                        <path d="M6.3 11.8a3.3 3.3 0 0 0 5.4 0"/>
                        <path d="M6.6 8h.01M11.4 8h.01"/>
                        <path d="M16.5 2v5M14 4.5h5"/>
                    </svg>
                </button>
                <Show when=move || picking.get()>
                    <span class="reaction-picker" role="menu" aria-label="Reactions">{choices.clone()}</span>
                </Show>
            </span>
        </div>
    }
}

/// One emoji's chip: the emoji and how many reacted with it; who did, in its `title`; pressed
/// (`aria-pressed`) when this person did, and a click toggles theirs.
#[component]
fn ReactionChip(room: RoomName, id: protocol::MessageId, reaction: Reaction) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let emoji = reaction.emoji;
    let who = who_reacted(&reaction);
    let label = format!("{emoji} {}: {who}", reaction.count);
    let pressed = {
        let room = room.clone();
        Memo::new(move |_| client.state.with(|s| s.reacted(&room, id, emoji)))
    };
    view! {
        <button class="reaction" class:mine=move || pressed.get()
            aria-pressed=move || pressed.get().to_string() title=who aria-label=label
            on:click=move |_| client.toggle_reaction(&room, id, emoji)>
            <span class="reaction-emoji">{emoji.as_str()}</span>
            <span class="reaction-count">{reaction.count}</span>
        </button>
    }
}

/// A confirmed message's text: formatted, marked "edited", or the placeholder of a deleted one; for the
/// author, Edit (in place: Enter saves, Escape cancels) and Delete.
#[component]
fn MessageContent(message: ChatMessage, mine: bool) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    if message.deleted {
        return view! { <div class="body deleted">"This message was deleted."</div> }.into_any();
    }
    let editing = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let draft = RwSignal::new(message.body.clone());
    let ChatMessage {
        room,
        id,
        body,
        edited_at,
        ..
    } = message;
    let save = {
        let room = room.clone();
        move || match client.edit(&room, id, draft.get_untracked()) {
            Ok(()) => editing.set(false),
            Err(sentence) => problem.set(Some(sentence)),
        }
    };
    let on_key = {
        let save = save.clone();
        move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
            "Enter" if !ev.shift_key() => {
                ev.prevent_default();
                save();
            }
            "Escape" => editing.set(false),
            _ => {}
        }
    };
    let edited = edited_at.map(|at| format!("Edited {}", rfc3339(at)));
    let shown = body.clone();
    view! {
        <Show when=move || editing.get() fallback=move || view! {
            <Body body=shown.clone() room=room.clone()/>
            {edited.clone().map(|title| view! { <span class="edited" title=title>"(edited)"</span> })}
            {mine.then(|| {
                let room = room.clone();
                let body = body.clone();
                view! {
                    <div class="msg-actions">
                        <button class="link-button" on:click=move |_| {
                            draft.set(body.clone());
                            problem.set(None);
                            editing.set(true);
                        }>"Edit"</button>
                        <button class="link-button" on:click=move |_| client.delete(&room, id)>"Delete"</button>
                    </div>
                }
            })}
        }>
            <div class="edit">
                <textarea class="edit-box" aria-label="Edit message" prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev)) on:keydown=on_key.clone()></textarea>
                {move || problem.get().map(|p| view! { <p class="edit-problem" role="alert">{p}</p> })}
                <div class="msg-actions shown">
                    <button class="link-button" on:click={
                        let save = save.clone();
                        move |_| save()
                    }>"Save"</button>
                    <button class="link-button" on:click=move |_| editing.set(false)>"Cancel"</button>
                </div>
            </div>
        </Show>
    }
    .into_any()
}

/// Message text, formatted ([`markup`]): always elements and text nodes, never HTML; only `http(s)`
/// addresses become links, opening in a new tab without access to this one. Mentions of the people known
/// in `room` when the row is drawn are marked, the reader's own apart.
#[component]
fn Body(body: String, room: RoomName) -> impl IntoView {
    let people = people(expect_context::<ChatClient>(), &room, &body);
    let spans = markup::parse(&body, &people)
        .into_iter()
        .map(|span| match span {
            Span::Text(text, emphasis) => emphasized(text.into_any(), emphasis),
            Span::Code(code, emphasis) => emphasized(view! { <code>{code}</code> }.into_any(), emphasis),
            Span::Link(url, emphasis) => {
                let text = url.clone();
                let link = view! { <a href=url target="_blank" rel="noopener noreferrer nofollow">{text}</a> };
                emphasized(link.into_any(), emphasis)
            }
            Span::CodeBlock(code) => view! { <pre><code>{code}</code></pre> }.into_any(),
            Span::Mention {
                text,
                emphasis,
                you,
            } => emphasized(
                view! { <span class="mention" class:of-you=you>{text}</span> }.into_any(),
                emphasis,
            ),
        })
        .collect::<Vec<_>>();
    view! { <div class="body">{spans}</div> }
}

/// Who a body in `room` may mention, as the reader reads it now; nobody for a body without an `@`, so
/// most messages cost nothing to look at.
fn people(client: ChatClient, room: &RoomName, body: &str) -> People {
    if body.contains('@') {
        client.people(room)
    } else {
        People::default()
    }
}

/// Wraps a piece in `<strong>` and/or `<em>`.
fn emphasized(piece: AnyView, emphasis: Emphasis) -> AnyView {
    let piece = if emphasis.italic {
        view! { <em>{piece}</em> }.into_any()
    } else {
        piece
    };
    if emphasis.bold {
        view! { <strong>{piece}</strong> }.into_any()
    } else {
        piece
    }
}

/// A message not yet confirmed by the server: sending, waiting for the connection, or failed.
#[component]
fn PendingRow(message: PendingMessage, first: bool) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let auth = expect_context::<Auth>();
    let me = auth.session.with_untracked(|s| {
        s.as_ref().map(|s| protocol::User {
            id: s.sub.clone(),
            name: s.name.clone(),
            picture: s.picture.clone(),
        })
    });
    let failed = matches!(message.status, PendingStatus::Failed { .. });
    let status = move || match &message.status {
        PendingStatus::Failed { reason } => {
            let retry_id = message.client_id.clone();
            let discard_id = message.client_id.clone();
            view! {
                <span>"Not sent: " {reason.clone()}</span>
                <button class="link-button" on:click=move |_| client.retry(&retry_id)>"Retry"</button>
                <button class="link-button" on:click=move |_| client.discard(&discard_id)>"Discard"</button>
            }
            .into_any()
        }
        _ if client.status.get().is_online() => view! { <span>"Sending…"</span> }.into_any(),
        _ => view! { <span>"Waiting for connection…"</span> }.into_any(),
    };
    view! {
        <article class="msg pending" class:first=first class:failed=failed>
            {match (first, me.clone()) {
                (true, Some(user)) => view! { <Avatar user/> }.into_any(),
                _ => view! { <span class="gutter-time"></span> }.into_any(),
            }}
            <div class="msg-main">
                {first.then(|| view! {
                    <div class="msg-meta">
                        <span class="author">{me.map(|u| u.name).unwrap_or_default()}</span>
                    </div>
                })}
                <Body body=message.body.clone() room=message.room.clone()/>
                <div class="pending-status" role="status">{status}</div>
            </div>
        </article>
    }
}

/// The reader's time zone offset now.
fn local_offset() -> UtcOffset {
    let minutes_behind = js_sys::Date::new_0().get_timezone_offset();
    UtcOffset::from_whole_seconds(-(minutes_behind as i32) * 60).unwrap_or(UtcOffset::UTC)
}
