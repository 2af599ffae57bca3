//! Which side panel is open on a narrow screen: the room page owns it, the sidebar closes it when a room
//! is picked. It lives with the components so that none of them needs to import a route.

/// Which side panel is open on a narrow screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    None,
    Rooms,
    Members,
}
