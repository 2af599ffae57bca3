//! `cargo xtask kick` against moto's Cognito and SQS: the binary, given a describe-stacks file naming the
//! pool and the command queue, revokes the person's refresh tokens and queues the registry's `kick` command
//! for their `sub` on the FIFO queue, grouped as the SQS adapter groups it. What the registry then does with
//! the command is local/tests/abuse.rs's (the same command, queued by `POST /dev/kick`).

#[path = "../../lambdas/tests/common/mod.rs"]
mod common;

use std::{path::PathBuf, process::Command};

use aws_sdk_cognitoidentityprovider::{
    types::{AttributeType, AuthFlowType, ExplicitAuthFlowsType},
    Client as Cognito,
};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use time::OffsetDateTime;
use xtask::kick::ID_TOKEN_LIFETIME;

/// A user pool with one user who has signed in (holding a refresh token), and a FIFO command queue.
struct Stack {
    moto: common::Server,
    cognito: Cognito,
    sqs: aws_sdk_sqs::Client,
    pool: String,
    client_id: String,
    queue_url: String,
    /// A describe-stacks answer naming the pool and the queue, in `_scratch`.
    outputs: PathBuf,
    /// Removed with the stack.
    _scratch: tempfile::TempDir,
}

impl Stack {
    async fn start() -> Self {
        let moto = common::moto_server();
        let sdk = lambdas::adapters::aws::sdk_config(Some(&moto.http_url())).await;
        let cognito = Cognito::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let pool = cognito
            .create_user_pool()
            .pool_name("chatty")
            .send()
            .await
            .unwrap()
            .user_pool
            .unwrap()
            .id
            .unwrap();
        let client_id = cognito
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("app")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap()
            .client_id
            .unwrap();
        let queue_url = sqs
            .create_queue()
            .queue_name("chatty-commands.fifo")
            .attributes(QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let outputs = scratch.path().join("describe-stacks.json");
        let described = serde_json::json!({ "Stacks": [{
            "StackName": "chatty",
            "StackStatus": "UPDATE_COMPLETE",
            "Outputs": [
                { "OutputKey": "UserPoolId", "OutputValue": pool },
                { "OutputKey": "CommandQueueURL", "OutputValue": queue_url },
            ],
        }]});
        std::fs::write(&outputs, described.to_string()).unwrap();
        Self {
            moto,
            cognito,
            sqs,
            pool,
            client_id,
            queue_url,
            outputs,
            _scratch: scratch,
        }
    }

    /// A user with `email`, signed in once: their `sub` and refresh token.
    async fn signed_in_user(&self, username: &str, email: &str) -> (String, String) {
        let user = self
            .cognito
            .admin_create_user()
            .user_pool_id(&self.pool)
            .username(username)
            .user_attributes(attribute("email", email))
            .send()
            .await
            .unwrap()
            .user
            .unwrap();
        let sub = user
            .attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value())
            .unwrap()
            .to_owned();
        self.cognito
            .admin_set_user_password()
            .user_pool_id(&self.pool)
            .username(username)
            .password("Correct-Horse-1")
            .permanent(true)
            .send()
            .await
            .unwrap();
        let signed_in = self
            .cognito
            .admin_initiate_auth()
            .user_pool_id(&self.pool)
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", "Correct-Horse-1")
            .send()
            .await
            .unwrap();
        let refresh = signed_in
            .authentication_result()
            .and_then(|r| r.refresh_token())
            .unwrap()
            .to_owned();
        (sub, refresh)
    }

    /// Whether `refresh` still gets a new ID token.
    async fn refreshes(&self, refresh: &str) -> bool {
        self.cognito
            .admin_initiate_auth()
            .user_pool_id(&self.pool)
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", refresh)
            .send()
            .await
            .is_ok_and(|r| {
                r.authentication_result()
                    .and_then(|a| a.id_token())
                    .is_some()
            })
    }

    /// `cargo xtask kick USER --outputs FILE` with the emulator as every service's endpoint.
    fn kick(&self, user: &str) -> (bool, String, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["kick", user, "--region", "us-east-1", "--outputs"])
            .arg(&self.outputs)
            .env("AWS_ENDPOINT_URL", self.moto.http_url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    }

    /// Every message on the command queue: (body, message group id).
    async fn queued(&self) -> Vec<(String, String)> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .unwrap();
        received
            .messages()
            .iter()
            .map(|m| {
                let group = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                    .cloned()
                    .unwrap_or_default();
                (m.body().unwrap_or_default().to_owned(), group)
            })
            .collect()
    }
}

fn attribute(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

/// Kicked by email: the refresh token stops working, and one `kick` command for the person's `sub` is queued
/// in their own message group, keeping them out until every ID token issued before has expired.
#[tokio::test]
async fn kick_by_email_revokes_refresh_tokens_and_queues_the_kick() {
    let stack = Stack::start().await;
    let (sub, refresh) = stack.signed_in_user("Google_1001", "ada@example.com").await;
    let (_, other_refresh) = stack.signed_in_user("Google_1002", "lin@example.com").await;
    assert!(
        stack.refreshes(&refresh).await,
        "the refresh token works before"
    );

    let before = OffsetDateTime::now_utc();
    let (ok, stdout, stderr) = stack.kick("ada@example.com");
    assert!(ok, "kick failed: {stderr}");
    assert!(
        stdout.contains("Google_1001") && stdout.contains(&sub),
        "it says whom it signed out: {stdout}"
    );

    assert!(
        !stack.refreshes(&refresh).await,
        "the refresh token is revoked"
    );
    assert!(
        stack.refreshes(&other_refresh).await,
        "nobody else is signed out"
    );
    let queued = stack.queued().await;
    assert_eq!(queued.len(), 1, "one command: {queued:?}");
    let (body, group) = &queued[0];
    let protocol::Command::Kick { user_id, until } = serde_json::from_str(body).unwrap() else {
        panic!("not a kick: {body}");
    };
    assert_eq!(user_id, sub);
    assert_eq!(group, &format!("user:{sub}"));
    assert!(
        until >= before + ID_TOKEN_LIFETIME
            && until <= OffsetDateTime::now_utc() + ID_TOKEN_LIFETIME
    );
}

/// A Cognito username works too; a person the pool does not have is a clear error, and nothing is queued.
#[tokio::test]
async fn kick_by_username_and_refusal_of_an_unknown_person() {
    let stack = Stack::start().await;
    let (sub, refresh) = stack
        .signed_in_user("Google_2001", "grace@example.com")
        .await;

    let (ok, _, stderr) = stack.kick("nobody@example.com");
    assert!(!ok);
    assert!(
        stderr.contains("no user in pool") && stderr.contains("nobody@example.com"),
        "{stderr}"
    );
    assert!(stack.queued().await.is_empty(), "nothing queued for nobody");
    assert!(stack.refreshes(&refresh).await);

    let (ok, _, stderr) = stack.kick("Google_2001");
    assert!(ok, "{stderr}");
    assert!(!stack.refreshes(&refresh).await);
    let queued = stack.queued().await;
    assert_eq!(queued.len(), 1);
    assert!(queued[0].0.contains(&sub));
}

/// The kick keeps the person out exactly as long as an ID token lives: template.yaml's `IdTokenValidity`.
#[test]
fn the_kick_lasts_as_long_as_an_id_token() {
    let template =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
            .unwrap();
    let minutes: i64 = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("IdTokenValidity: "))
        .expect("the app client sets IdTokenValidity")
        .parse()
        .unwrap();
    assert!(template.contains("IdToken: minutes"));
    assert_eq!(ID_TOKEN_LIFETIME.whole_minutes(), minutes);
}
