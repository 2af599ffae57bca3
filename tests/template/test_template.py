"""template.yaml keeps the rules of invariants.py, and each rule catches the break it exists for.

Run: python3 -m unittest discover -s tests/template -v   (tests/template/run.sh does, with the SAM tools)
"""

import copy
import unittest

import invariants as inv


def resource(template, name):
    return template["Resources"][name]


def properties(template, name):
    return resource(template, name)["Properties"]


def statement_with(template, role, policy_name):
    for policy in properties(template, role)["Policies"]:
        if policy["PolicyName"] == policy_name:
            return policy["PolicyDocument"]["Statement"]
    raise KeyError(policy_name)


class TheTemplate(unittest.TestCase):
    """The real template breaks no rule."""

    @classmethod
    def setUpClass(cls):
        cls.template = inv.load()

    def test_every_rule_holds(self):
        """Each rule of invariants.RULES finds nothing wrong with template.yaml."""
        for rule in inv.RULES:
            with self.subTest(rule=rule.__name__):
                self.assertEqual(rule(self.template), [])

    def test_short_forms_are_read(self):
        """The loader turns !Ref/!GetAtt/!Sub into long forms, so the rules see references, not strings."""
        uri = properties(self.template, "ConnectInteg")["IntegrationUri"]
        self.assertIn("Fn::Sub", uri)
        self.assertEqual(inv.refs(uri), {"GatewayFunction"})
        self.assertEqual(properties(self.template, "SenderFunction")["Role"], {"Fn::GetAtt": ["SenderRole", "Arn"]})

    def test_the_binaries_pin_the_runtimes_log_target(self):
        """events_are_never_logged leans on the binaries keeping lambda_runtime at INFO; the source must say so."""
        self.assertIn("lambda_runtime", inv.pinned_log_targets())

    def test_protocol_actions_are_found(self):
        """The route rule reads protocol::ACTIONS; if it read nothing it would check nothing."""
        self.assertIn("send", inv.protocol_actions())
        self.assertGreaterEqual(len(inv.protocol_actions()), 6)


class EachRuleBites(unittest.TestCase):
    """A copy of the template broken in one way is caught by the rule for it (a rule that checks nothing fails)."""

    @classmethod
    def setUpClass(cls):
        cls.pristine = inv.load()

    def broken(self):
        return copy.deepcopy(self.pristine)

    def assertCaught(self, rule, template, fragment):
        problems = rule(template)
        self.assertTrue(any(fragment in p for p in problems), f"{rule.__name__} missed it; said {problems}")

    def test_wrong_protocol_type(self):
        t = self.broken()
        properties(t, "ChatApi")["ProtocolType"] = "HTTP"
        self.assertCaught(inv.websocket_api, t, "ProtocolType")

    def test_missing_route(self):
        t = self.broken()
        del t["Resources"]["TypingRoute"]
        self.assertCaught(inv.routes_cover_the_protocol, t, "no route for 'typing'")

    def test_one_way_message_route(self):
        t = self.broken()
        del properties(t, "SendRoute")["RouteResponseSelectionExpression"]
        self.assertCaught(inv.routes_cover_the_protocol, t, "'send' is not two-way")

    def test_connect_without_authorizer(self):
        t = self.broken()
        properties(t, "ConnectRoute")["AuthorizationType"] = "NONE"
        self.assertCaught(inv.routes_cover_the_protocol, t, "$connect is not behind the authorizer")

    def test_token_from_a_header(self):
        t = self.broken()
        properties(t, "ConnectAuthorizer")["IdentitySource"] = ["route.request.header.Authorization"]
        self.assertCaught(inv.routes_cover_the_protocol, t, "querystring.token")

    def test_route_missing_from_deployment(self):
        t = self.broken()
        (deployment,) = inv.resources(t, "AWS::ApiGatewayV2::Deployment").values()
        deployment["DependsOn"].remove("PingRoute")
        self.assertCaught(inv.routes_cover_the_protocol, t, "does not wait for route 'ping'")

    def test_x86_function(self):
        t = self.broken()
        properties(t, "SenderFunction")["Architectures"] = ["x86_64"]
        self.assertCaught(inv.functions_are_rust_on_arm, t, "SenderFunction: Architectures")

    def test_wrong_runtime_in_globals(self):
        t = self.broken()
        t["Globals"]["Function"]["Runtime"] = "provided.al2"
        self.assertCaught(inv.functions_are_rust_on_arm, t, "not provided.al2023")

    def test_missing_binary(self):
        t = self.broken()
        resource(t, "GatewayFunction")["Metadata"]["BuildProperties"]["Binary"] = "authorizer"
        self.assertCaught(inv.functions_are_rust_on_arm, t, "the functions build")

    def test_second_function_in_vpc(self):
        t = self.broken()
        properties(t, "SenderFunction")["VpcConfig"] = copy.deepcopy(properties(t, "RegistryFunction")["VpcConfig"])
        self.assertCaught(inv.only_registry_in_vpc, t, "only RegistryFunction may be")

    def test_nat_gateway(self):
        t = self.broken()
        t["Resources"]["Nat"] = {"Type": "AWS::EC2::NatGateway", "Properties": {"SubnetId": {"Ref": "PrivateSubnetA"}}}
        self.assertCaught(inv.only_registry_in_vpc, t, "a way out")

    def test_cache_open_to_the_vpc(self):
        t = self.broken()
        rule = properties(t, "CacheFromRegistryIngress")
        del rule["SourceSecurityGroupId"]
        rule["CidrIp"] = "10.42.0.0/16"
        self.assertCaught(inv.only_registry_in_vpc, t, "admits something other than the registry")

    def test_queue_without_dead_letter_queue(self):
        t = self.broken()
        del properties(t, "DeliveryQueue")["RedrivePolicy"]
        self.assertCaught(inv.queues_have_dead_letters, t, "DeliveryQueue: neither has a dead-letter queue")

    def test_dead_letter_queue_without_alarm(self):
        t = self.broken()
        del t["Resources"]["CommandDeadLetterAlarm"]
        self.assertCaught(inv.queues_have_dead_letters, t, "CommandDeadLetterQueue: a dead-letter queue nobody is alarmed about")

    def test_whole_batch_retries(self):
        t = self.broken()
        del properties(t, "RegistryFunction")["Events"]["Commands"]["Properties"]["FunctionResponseTypes"]
        self.assertCaught(inv.consumers_match_their_queues, t, "does not report batch item failures")

    def test_standard_command_queue(self):
        t = self.broken()
        del properties(t, "CommandQueue")["FifoQueue"]
        self.assertCaught(inv.queues_keep_each_groups_order, t, "CommandQueue: not a FIFO queue")

    def test_fifo_queue_not_named_fifo(self):
        t = self.broken()
        properties(t, "DeliveryQueue")["QueueName"] = {"Fn::Sub": "${AWS::StackName}-deliveries"}
        self.assertCaught(inv.queues_keep_each_groups_order, t, "DeliveryQueue: not a FIFO queue")

    def test_standard_dead_letter_queue(self):
        t = self.broken()
        del properties(t, "CommandDeadLetterQueue")["FifoQueue"]
        self.assertCaught(inv.queues_keep_each_groups_order, t, "CommandDeadLetterQueue: not a FIFO queue")

    def test_content_based_deduplication(self):
        t = self.broken()
        properties(t, "DeliveryQueue")["ContentBasedDeduplication"] = True
        self.assertCaught(inv.queues_keep_each_groups_order, t, "DeliveryQueue: content-based deduplication")

    def test_plain_fifo_throughput(self):
        t = self.broken()
        del properties(t, "CommandQueue")["FifoThroughputLimit"]
        self.assertCaught(inv.queues_keep_each_groups_order, t, "CommandQueue: not in high throughput mode")

    def test_batching_window_on_fifo(self):
        t = self.broken()
        properties(t, "SenderFunction")["Events"]["Deliveries"]["Properties"]["MaximumBatchingWindowInSeconds"] = 1
        self.assertCaught(inv.queues_keep_each_groups_order, t, "SenderFunction: a batching window")

    def test_visibility_shorter_than_consumer(self):
        t = self.broken()
        properties(t, "SenderFunction")["Timeout"] = 30
        self.assertCaught(inv.consumers_match_their_queues, t, "DeliveryQueue: visibility timeout")

    def test_consumer_without_maximum_concurrency(self):
        t = self.broken()
        del properties(t, "SenderFunction")["Events"]["Deliveries"]["Properties"]["ScalingConfig"]
        self.assertCaught(inv.consumers_match_their_queues, t, "SenderFunction: its DeliveryQueue event source has no MaximumConcurrency")

    def test_consumers_take_the_edges_share(self):
        t = self.broken()
        properties(t, "SenderFunction")["Events"]["Deliveries"]["Properties"]["ScalingConfig"]["MaximumConcurrency"] = 5
        self.assertCaught(inv.consumers_match_their_queues, t, "the queue consumers may take 10 concurrent executions")

    def test_connect_shares_the_routes_throttle(self):
        t = self.broken()
        del properties(t, "Stage")["RouteSettings"]["$connect"]
        self.assertCaught(inv.the_edge_is_throttled, t, "$connect's ThrottlingRateLimit (None)")

    def test_connect_throttle_above_the_routes(self):
        t = self.broken()
        properties(t, "Stage")["RouteSettings"]["$connect"]["ThrottlingBurstLimit"] = 500
        self.assertCaught(inv.the_edge_is_throttled, t, "$connect's ThrottlingBurstLimit (500)")

    def test_route_settings_for_a_missing_route(self):
        t = self.broken()
        properties(t, "Stage")["RouteSettings"]["$conect"] = {"ThrottlingRateLimit": 1}
        self.assertCaught(inv.the_edge_is_throttled, t, "'$conect', which is no route")

    def test_storage_alarm_off_the_cap(self):
        t = self.broken()
        properties(t, "Cache")["CacheUsageLimits"]["DataStorage"]["Maximum"] = 0.5
        self.assertCaught(inv.the_cache_is_watched, t, "no BytesUsedForCache alarm at 75% of its 500000000.0 byte cap")

    def test_cache_alarm_on_a_node_dimension(self):
        t = self.broken()
        properties(t, "CacheStorageAlarm")["Dimensions"][0]["Name"] = "CacheClusterId"
        self.assertCaught(inv.the_cache_is_watched, t, "Cache: no BytesUsedForCache alarm")

    def test_ecpu_alarm_far_below_the_cap(self):
        t = self.broken()
        properties(t, "Cache")["CacheUsageLimits"]["ECPUPerSecond"]["Maximum"] = 50000
        self.assertCaught(inv.the_cache_is_watched, t, "no ElastiCacheProcessingUnits alarm near its 50000 ECPU/s cap")

    def test_no_throttled_commands_alarm(self):
        t = self.broken()
        del t["Resources"]["CacheThrottledAlarm"]
        self.assertCaught(inv.the_cache_is_watched, t, "Cache: no alarm on ThrottledCmds")

    def test_alarm_without_action(self):
        t = self.broken()
        del properties(t, "CacheThrottledAlarm")["AlarmActions"]
        self.assertCaught(inv.the_cache_is_watched, t, "CacheThrottledAlarm: an alarm that tells no one")

    def test_trace_logging_in_globals(self):
        t = self.broken()
        t["Globals"]["Function"]["Environment"]["Variables"]["RUST_LOG"] = "info,lambda_runtime=trace"
        self.assertCaught(inv.events_are_never_logged, t, "AuthorizerFunction: RUST_LOG=info,lambda_runtime=trace")

    def test_trace_through_lambdas_log_level(self):
        t = self.broken()
        properties(t, "AuthorizerFunction")["LoggingConfig"]["ApplicationLogLevel"] = "TRACE"
        self.assertCaught(inv.events_are_never_logged, t, "AuthorizerFunction: ApplicationLogLevel TRACE")

    def test_gateway_gets_manage_connections(self):
        t = self.broken()
        properties(t, "GatewayRole")["Policies"].append(copy.deepcopy(properties(t, "SenderRole")["Policies"][-1]))
        self.assertCaught(inv.least_privilege, t, "only the sender's role")

    def test_manage_connections_on_any_api(self):
        t = self.broken()
        statement_with(t, "SenderRole", "post-to-connections")[0]["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:*/*/POST/@connections/*"
        }
        self.assertCaught(inv.least_privilege, t, "not this API's @connections")

    def test_star_resource(self):
        t = self.broken()
        statement_with(t, "GatewayRole", "logs")[0]["Resource"] = "*"
        self.assertCaught(inv.least_privilege, t, 'GatewayRole: Resource "*"')

    def test_queue_action_on_a_foreign_queue(self):
        t = self.broken()
        statement_with(t, "GatewayRole", "queues")[0]["Resource"] = "arn:aws:sqs:us-east-1:123456789012:someone-else"
        self.assertCaught(inv.least_privilege, t, "other than this template's queues")

    def test_sam_generated_role(self):
        t = self.broken()
        del properties(t, "AuthorizerFunction")["Role"]
        properties(t, "AuthorizerFunction")["Policies"] = ["AWSLambdaBasicExecutionRole"]
        self.assertCaught(inv.least_privilege, t, "AuthorizerFunction: no explicit role")

    def test_sender_cannot_requeue(self):
        t = self.broken()
        statement_with(t, "SenderRole", "queues")[1]["Resource"] = {"Fn::GetAtt": ["CommandQueue", "Arn"]}
        self.assertCaught(inv.roles_allow_what_functions_use, t, "SenderFunction: is given DeliveryQueue")

    def test_endpoint_blocks_the_registry(self):
        t = self.broken()
        properties(t, "QueueEndpoint")["PolicyDocument"]["Statement"][0]["Resource"] = [{"Fn::GetAtt": ["CommandQueue", "Arn"]}]
        self.assertCaught(inv.roles_allow_what_functions_use, t, "VPC endpoint's policy")

    def test_log_group_kept_forever(self):
        t = self.broken()
        del properties(t, "SenderLogGroup")["RetentionInDays"]
        self.assertCaught(inv.logs_and_alarms, t, "SenderLogGroup: kept forever")

    def test_every_invocation_logs_lambdas_records(self):
        t = self.broken()
        del properties(t, "RegistryFunction")["LoggingConfig"]["SystemLogLevel"]
        self.assertCaught(inv.logs_and_alarms, t, "RegistryFunction: Lambda's own INFO records")

    def test_function_without_throttle_alarm(self):
        t = self.broken()
        del t["Resources"]["RegistryThrottlesAlarm"]
        self.assertCaught(inv.logs_and_alarms, t, "RegistryFunction: no alarm on Throttles")

    def test_access_log_records_the_token(self):
        t = self.broken()
        properties(t, "Stage")["AccessLogSettings"]["Format"] += ' "q":"$context.querystring"'
        self.assertCaught(inv.logs_and_alarms, t, "query string")

    def test_account_setting_on_by_default(self):
        t = self.broken()
        t["Parameters"]["ConfigureApiGatewayLogging"]["Default"] = "true"
        self.assertCaught(inv.account_settings_are_opt_in, t, "ApiGatewayAccount: the account's API Gateway role is set")

    def test_account_setting_unconditional(self):
        t = self.broken()
        del resource(t, "ApiGatewayAccount")["Condition"]
        self.assertCaught(inv.account_settings_are_opt_in, t, "ApiGatewayAccount: the account's API Gateway role is set")

    def test_sign_in_domain_shared_by_every_stack(self):
        t = self.broken()
        properties(t, "UserPoolDomain")["Domain"]["Fn::If"][1] = {"Fn::Sub": "chatty-${AWS::AccountId}"}
        self.assertCaught(inv.sign_in_and_hosting, t, "not made of the stack name and the account id")

    def test_secret_echoed(self):
        t = self.broken()
        del t["Parameters"]["GoogleClientSecret"]["NoEcho"]
        self.assertCaught(inv.sign_in_and_hosting, t, "NoEcho")

    def test_confidential_client(self):
        t = self.broken()
        properties(t, "UserPoolClient")["GenerateSecret"] = True
        self.assertCaught(inv.sign_in_and_hosting, t, "not a public authorization-code client")

    def test_plain_http(self):
        t = self.broken()
        properties(t, "Distribution")["DistributionConfig"]["DefaultCacheBehavior"]["ViewerProtocolPolicy"] = "allow-all"
        self.assertCaught(inv.sign_in_and_hosting, t, "plain HTTP")

    def test_csp_allows_inline_scripts(self):
        t = self.broken()
        csp = properties(t, "SecurityHeadersPolicy")["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
        csp["ContentSecurityPolicy"]["Fn::Sub"][0] = csp["ContentSecurityPolicy"]["Fn::Sub"][0].replace(
            "script-src 'self'", "script-src 'self' 'unsafe-inline'"
        )
        self.assertCaught(inv.sign_in_and_hosting, t, "inline")

    def test_csp_connects_anywhere(self):
        t = self.broken()
        csp = properties(t, "SecurityHeadersPolicy")["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
        csp["ContentSecurityPolicy"]["Fn::Sub"][0] = csp["ContentSecurityPolicy"]["Fn::Sub"][0].replace(
            "connect-src 'self'", "connect-src 'self' https:"
        )
        self.assertCaught(inv.sign_in_and_hosting, t, "allows more than")


if __name__ == "__main__":
    unittest.main()
