//! `cargo xtask kick USER`: signs a person out of a deployed stack everywhere, at once.
//!
//! Three things, in this order, so that nothing the person still holds lets them back in:
//! 1. Cognito's global sign-out (`AdminUserGlobalSignOut`): every refresh token the person holds is
//!    revoked, so no device gets a new ID token;
//! 2. the registry's `kick` command on the stack's command queue, through the backend's own SQS adapter
//!    (FIFO group and deduplication id): every live connection is told `signed_out` and closed through
//!    `@connections`;
//! 3. that same command keeps the person out until [`ID_TOKEN_LIFETIME`] from now: an ID token issued before
//!    the sign-out is still valid until then (the authorizer cannot know it was revoked), and a connection it
//!    opens is refused `signed_out`.
//!
//! The person is named by their Cognito username or their email, as the operator has it; the registry
//! knows them by the ID token's `sub`, which is looked up here.

use anyhow::{bail, Context, Result};
use aws_sdk_cognitoidentityprovider::{types::AttributeType, Client as Cognito};
use lambdas::{adapters::sqs::SqsQueue, ports::Queue};
use protocol::Command;
use time::{Duration, OffsetDateTime};

/// How long an ID token lives: template.yaml's `IdTokenValidity` (minutes; a test holds them together).
pub const ID_TOKEN_LIFETIME: Duration = Duration::minutes(60);

/// The person as Cognito and the registry know them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Cognito's username (`Google_…` for a Google sign-in).
    pub username: String,
    /// The ID token's `sub`: the registry's user id.
    pub user_id: String,
}

/// What was done.
#[derive(Debug)]
pub struct Kicked {
    pub person: Person,
    /// New connections are refused until then.
    pub until: OffsetDateTime,
}

/// Signs `who` (a username or an email) out of user pool `pool` and queues the kick on `commands`.
pub async fn kick(
    cognito: &Cognito,
    commands: &SqsQueue<Command>,
    pool: &str,
    who: &str,
    now: OffsetDateTime,
) -> Result<Kicked> {
    let person = find(cognito, pool, who).await?;
    cognito
        .admin_user_global_sign_out()
        .user_pool_id(pool)
        .username(&person.username)
        .send()
        .await
        .map_err(aws_sdk_cognitoidentityprovider::Error::from)
        .context("Cognito's global sign-out")?;
    let until = now + ID_TOKEN_LIFETIME;
    commands
        .send_all(vec![Command::Kick {
            user_id: person.user_id.clone(),
            until,
        }])
        .await
        .context("queueing the kick command")?;
    Ok(Kicked { person, until })
}

/// The person `who` names: an email (it has an `@`) is looked up among the pool's users, anything else is
/// taken for a username.
async fn find(cognito: &Cognito, pool: &str, who: &str) -> Result<Person> {
    let found = if who.contains('@') {
        if who.contains('"') {
            bail!("{who:?} is not an email");
        }
        let listed = cognito
            .list_users()
            .user_pool_id(pool)
            .filter(format!("email = \"{who}\""))
            .send()
            .await
            .map_err(aws_sdk_cognitoidentityprovider::Error::from)
            .context("looking the email up in the user pool")?;
        match listed.users() {
            [] => bail!("no user in pool {pool} has the email {who}"),
            [user] => (
                user.username().unwrap_or_default().to_owned(),
                sub(user.attributes()),
            ),
            users => bail!(
                "{} users in pool {pool} have the email {who}; name one by username",
                users.len()
            ),
        }
    } else {
        let user = cognito
            .admin_get_user()
            .user_pool_id(pool)
            .username(who)
            .send()
            .await
            .map_err(aws_sdk_cognitoidentityprovider::Error::from)
            .with_context(|| format!("looking user {who} up in pool {pool}"))?;
        (user.username().to_owned(), sub(user.user_attributes()))
    };
    match found {
        (username, Some(user_id)) if !username.is_empty() => Ok(Person { username, user_id }),
        _ => bail!("user {who} has no username or no sub in pool {pool}"),
    }
}

fn sub(attributes: &[AttributeType]) -> Option<String> {
    attributes
        .iter()
        .find(|a| a.name() == "sub")
        .and_then(|a| a.value())
        .map(str::to_owned)
}
