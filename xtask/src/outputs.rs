//! The stack's outputs (template.yaml's `Outputs:`), as `aws cloudformation describe-stacks` returns them.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// Output keys the commands read; each is declared in template.yaml's `Outputs:` (a test checks).
pub const WEB_SOCKET_URL: &str = "WebSocketURL";
pub const SITE_URL: &str = "SiteURL";
pub const SITE_BUCKET_NAME: &str = "SiteBucketName";
pub const DISTRIBUTION_ID: &str = "DistributionId";
pub const AUTH_BASE_URL: &str = "AuthBaseURL";
pub const USER_POOL_CLIENT_ID: &str = "UserPoolClientId";
pub const GOOGLE_REDIRECT_URI: &str = "GoogleRedirectURI";
/// Read by `cargo xtask kick`.
pub const USER_POOL_ID: &str = "UserPoolId";
pub const COMMAND_QUEUE_URL: &str = "CommandQueueURL";

/// Every key above, for the check that the template declares them.
pub const READ_KEYS: [&str; 9] = [
    WEB_SOCKET_URL,
    SITE_URL,
    SITE_BUCKET_NAME,
    DISTRIBUTION_ID,
    AUTH_BASE_URL,
    USER_POOL_CLIENT_ID,
    GOOGLE_REDIRECT_URI,
    USER_POOL_ID,
    COMMAND_QUEUE_URL,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutputs(BTreeMap<String, String>);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeStacks {
    stacks: Vec<Stack>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Stack {
    stack_name: String,
    stack_status: String,
    #[serde(default)]
    outputs: Vec<Output>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Output {
    output_key: String,
    output_value: String,
}

impl StackOutputs {
    /// Reads `describe-stacks --stack-name NAME` output. Refuses a stack that is not in a settled, successful
    /// state: its outputs may be missing or stale.
    pub fn from_describe_stacks(json: &str) -> Result<Self> {
        let described: DescribeStacks =
            serde_json::from_str(json).context("not `aws cloudformation describe-stacks` JSON")?;
        let [stack] = described.stacks.as_slice() else {
            bail!("expected exactly one stack, got {}", described.stacks.len());
        };
        if !matches!(
            stack.stack_status.as_str(),
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_COMPLETE"
        ) {
            bail!(
                "stack {} is {}; deploy it successfully first",
                stack.stack_name,
                stack.stack_status
            );
        }
        Ok(Self(
            stack
                .outputs
                .iter()
                .map(|o| (o.output_key.clone(), o.output_value.clone()))
                .collect(),
        ))
    }

    /// The value of one output; an error names the key, so a template/xtask mismatch is obvious.
    pub fn get(&self, key: &str) -> Result<&str> {
        self.0.get(key).map(String::as_str).with_context(|| {
            format!("the stack has no output `{key}` (is template.yaml deployed?)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stack still rolling out is refused instead of publishing half its endpoints.
    #[test]
    fn refuses_an_unsettled_stack() {
        let json = r#"{"Stacks":[{"StackName":"chatty","StackStatus":"UPDATE_IN_PROGRESS","Outputs":[]}]}"#;
        let err = StackOutputs::from_describe_stacks(json).unwrap_err();
        assert!(err.to_string().contains("UPDATE_IN_PROGRESS"), "{err}");
    }

    /// A missing output is named in the error.
    #[test]
    fn missing_output_is_named() {
        let json = r#"{"Stacks":[{"StackName":"chatty","StackStatus":"CREATE_COMPLETE"}]}"#;
        let outputs = StackOutputs::from_describe_stacks(json).unwrap();
        let err = outputs.get(WEB_SOCKET_URL).unwrap_err();
        assert!(err.to_string().contains("WebSocketURL"), "{err}");
    }
}
