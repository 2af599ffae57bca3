//! The one account-wide setting the stack may touch: API Gateway's CloudWatch logging role (one per account
//! and region, `AWS::ApiGateway::Account`). Creating it overwrites whatever role is set, and deleting the stack
//! leaves the setting pointing at a deleted role, so the template only creates it when asked
//! (`ConfigureApiGatewayLogging`, default "false"), and `cargo xtask deploy` asks only when nothing else
//! provides it: no role is set in the region, or this stack already set it.

use anyhow::{Context, Result};
use serde::Deserialize;

/// The template parameter that turns the setting on.
pub const PARAMETER: &str = "ConfigureApiGatewayLogging";

/// Who provides API Gateway's CloudWatch role, and so what [`PARAMETER`] must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiGatewayLogging {
    /// The stack made the setting on an earlier deploy; it must keep it (turning it off would delete the role
    /// the region's setting points at).
    ThisStack,
    /// Another role is set already (the console, another stack): leave it alone.
    AlreadySet { role_arn: String },
    /// Nothing is set: without the stack's role, the stage's access logs cannot be written.
    NotSet,
}

impl ApiGatewayLogging {
    /// Decides from the stack as `describe-stacks` shows it (`None`: no stack yet) and `aws apigateway
    /// get-account`'s answer.
    pub fn decide(described_stack: Option<&str>, get_account: &str) -> Result<Self> {
        if let Some(json) = described_stack {
            if stack_parameter(json, PARAMETER)?.as_deref() == Some("true") {
                return Ok(Self::ThisStack);
            }
        }
        let account: Account =
            serde_json::from_str(get_account).context("not `aws apigateway get-account` JSON")?;
        Ok(
            match account.cloudwatch_role_arn.filter(|arn| !arn.is_empty()) {
                Some(role_arn) => Self::AlreadySet { role_arn },
                None => Self::NotSet,
            },
        )
    }

    /// The value `sam deploy` gets for [`PARAMETER`].
    pub fn create_in_stack(&self) -> bool {
        !matches!(self, Self::AlreadySet { .. })
    }

    /// One line for the person deploying.
    pub fn explain(&self) -> String {
        match self {
            Self::ThisStack => "API Gateway's CloudWatch role was set by this stack; keeping it".into(),
            Self::AlreadySet { role_arn } => {
                format!("API Gateway already logs to CloudWatch with {role_arn}; leaving it alone")
            }
            Self::NotSet => {
                "API Gateway has no CloudWatch role in this region; the stack sets one (deleting the stack \
                 later leaves the setting pointing at a deleted role: set another in API Gateway's settings)"
                    .into()
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Account {
    #[serde(default)]
    cloudwatch_role_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeStacks {
    stacks: Vec<Stack>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Stack {
    #[serde(default)]
    parameters: Vec<Parameter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Parameter {
    parameter_key: String,
    #[serde(default)]
    parameter_value: Option<String>,
}

fn stack_parameter(json: &str, key: &str) -> Result<Option<String>> {
    let described: DescribeStacks =
        serde_json::from_str(json).context("not `aws cloudformation describe-stacks` JSON")?;
    Ok(described
        .stacks
        .iter()
        .flat_map(|stack| &stack.parameters)
        .find(|p| p.parameter_key == key)
        .and_then(|p| p.parameter_value.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_ROLE: &str = r#"{"throttleSettings":{"burstLimit":5000,"rateLimit":10000.0},"features":["UsagePlans"],"apiKeyVersion":"4"}"#;
    const SOME_ROLE: &str = r#"{"cloudwatchRoleArn":"arn:aws:iam::123456789012:role/apigw-logs","throttleSettings":{"burstLimit":5000,"rateLimit":10000.0}}"#;

    fn stack_with(value: &str) -> String {
        format!(
            r#"{{"Stacks":[{{"StackName":"chatty","StackStatus":"UPDATE_COMPLETE","Parameters":[{{"ParameterKey":"{PARAMETER}","ParameterValue":"{value}"}}]}}]}}"#
        )
    }

    /// A region without a role: the stack creates it.
    #[test]
    fn no_role_means_the_stack_sets_it() {
        let decided = ApiGatewayLogging::decide(None, NO_ROLE).unwrap();
        assert_eq!(decided, ApiGatewayLogging::NotSet);
        assert!(decided.create_in_stack());
    }

    /// Someone else's role is left alone, whether or not the stack exists.
    #[test]
    fn an_existing_role_is_not_overwritten() {
        for stack in [None, Some(stack_with("false"))] {
            let decided = ApiGatewayLogging::decide(stack.as_deref(), SOME_ROLE).unwrap();
            assert!(!decided.create_in_stack(), "{decided:?}");
            assert!(decided.explain().contains("role/apigw-logs"));
        }
    }

    /// Once this stack set the role, get-account shows it set; the stack keeps it instead of deleting it.
    #[test]
    fn the_stacks_own_role_is_kept() {
        let decided = ApiGatewayLogging::decide(Some(&stack_with("true")), SOME_ROLE).unwrap();
        assert_eq!(decided, ApiGatewayLogging::ThisStack);
        assert!(decided.create_in_stack());
    }
}
