"""The rules of template.yaml that a linter cannot know, as functions from a parsed template to the list of
ways it breaks them (empty = the rule holds).

test_template.py runs every rule on the real template (which must break none) and on copies broken on purpose
(each of which the rule must catch), so a rule that silently stops checking fails too.
"""

import copy
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

# The four binaries of the chatty-lambdas package, one per function.
FUNCTION_BINARIES = {"authorizer", "gateway", "registry", "sender"}
# Routes API Gateway defines whatever the protocol says.
SPECIAL_ROUTES = {"$connect", "$disconnect", "$default"}
# The only statement that may name Resource "*": attaching a function to a VPC. EC2 offers no narrower resource
# for these calls (they are AWSLambdaVPCAccessExecutionRole's statement).
STAR_RESOURCE_ALLOWED_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}
# Lambda's advice for SQS event sources: the queue's visibility timeout at least six times the function's.
VISIBILITY_FACTOR = 6
# A new account may run 10 functions at once in all. The queue consumers' maximum concurrencies together must
# leave this many of them to the authorizer and the gateway, who answer people directly.
NEW_ACCOUNT_CONCURRENCY = 10
KEPT_FOR_THE_EDGE = 2
# The cache alarms: storage at 75 % of the cap; ECPUs between these fractions of the per-second cap.
CACHE_STORAGE_ALARM_FRACTION = 0.75
CACHE_ECPU_ALARM_FRACTIONS = (0.7, 0.9)
BYTES_PER = {"GB": 10**9}


# ----------------------------------------------------------------------------------------- loading


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !GetAtt, !Sub, …) turned into their long forms."""


def _short_form(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {"Fn::" + tag_suffix: value}


CloudFormationLoader.add_multi_constructor("!", _short_form)


def load(path=TEMPLATE):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CloudFormationLoader)


def protocol_actions():
    """The `action` values of protocol::ACTIONS, read from the source so a new action needs a new route."""
    source = (ROOT / "protocol" / "src" / "client.rs").read_text(encoding="utf-8")
    match = re.search(r"pub const ACTIONS: \[&str; \d+\] = \[([^\]]*)\]", source)
    assert match, "protocol/src/client.rs no longer declares ACTIONS"
    return re.findall(r'"([^"]+)"', match.group(1))


# ----------------------------------------------------------------------------------------- helpers


def resources(template, type_=None):
    return {
        name: body
        for name, body in template.get("Resources", {}).items()
        if type_ is None or body.get("Type") == type_
    }


def functions(template):
    """Serverless functions with the Globals they inherit merged in as SAM does: maps (Environment.Variables)
    key by key, anything else replaced by the resource's own value."""
    defaults = template.get("Globals", {}).get("Function", {})
    merged = {}
    for name, body in resources(template, "AWS::Serverless::Function").items():
        merged[name] = {**body, "Properties": _merge(defaults, body.get("Properties", {}))}
    return merged


def _merge(defaults, own):
    merged = copy.deepcopy(defaults)
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def refs(value):
    """Every resource or parameter a value names through Ref, GetAtt or a ${…} in Sub (pseudo parameters such
    as AWS::Region left out)."""
    return {name for name in _names(value) if not name.startswith("AWS::")}


def _names(value):
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if isinstance(inner, list):
                    found.update(_names(inner[1]))
            else:
                found.update(_names(inner))
    elif isinstance(value, list):
        for inner in value:
            found.update(_names(inner))
    return found


def as_list(value):
    return value if isinstance(value, list) else [value]


def role_of(function):
    role = function["Properties"].get("Role")
    names = refs(role) if role is not None else set()
    return next(iter(names)) if len(names) == 1 else None


def policy_documents(template):
    """(owner, document) for every IAM, bucket, queue and endpoint policy in the template."""
    for name, body in resources(template).items():
        properties = body.get("Properties", {})
        type_ = body["Type"]
        if type_ == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield name, policy["PolicyDocument"]
        elif type_ in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield name, properties["PolicyDocument"]
        elif type_ in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::EC2::VPCEndpoint"):
            if "PolicyDocument" in properties:
                yield name, properties["PolicyDocument"]
        elif type_ == "AWS::Serverless::Function" and "Policies" in properties:
            # SAM policy templates and inline statements: rules below insist on explicit roles instead.
            yield name, {"Statement": [{"Effect": "Allow", "Action": "sam:Policies", "Resource": "*"}]}


def statements(document):
    return as_list(document.get("Statement", []))


def consumers(template):
    """(function name, queue name, event properties) for every SQS event source."""
    for name, function in functions(template).items():
        for event in function["Properties"].get("Events", {}).values():
            if event.get("Type") == "SQS":
                queue = next(iter(refs(event["Properties"]["Queue"])))
                yield name, queue, event["Properties"]


# ----------------------------------------------------------------------------------------- rules


def websocket_api(template):
    problems = []
    apis = resources(template, "AWS::ApiGatewayV2::Api")
    if len(apis) != 1:
        return [f"expected one ApiGatewayV2 API, found {sorted(apis)}"]
    (api,) = apis.values()
    properties = api["Properties"]
    if properties.get("ProtocolType") != "WEBSOCKET":
        problems.append(f"ProtocolType is {properties.get('ProtocolType')!r}, not WEBSOCKET")
    if properties.get("RouteSelectionExpression") != "$request.body.action":
        problems.append("RouteSelectionExpression must be $request.body.action (protocol frames carry `action`)")
    return problems


def routes_cover_the_protocol(template):
    """A route per protocol action plus $connect/$disconnect/$default, each with its integration on the gateway;
    message routes two-way so the gateway can answer bad frames and pings without ManageConnections."""
    problems = []
    routes = {r["Properties"]["RouteKey"]: (name, r) for name, r in resources(template, "AWS::ApiGatewayV2::Route").items()}
    wanted = SPECIAL_ROUTES | set(protocol_actions())
    for key in sorted(wanted - routes.keys()):
        problems.append(f"no route for {key!r}")
    for key in sorted(routes.keys() - wanted):
        problems.append(f"route {key!r} is not a protocol action")
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    route_responses = {
        next(iter(refs(r["Properties"]["RouteId"]))) for r in resources(template, "AWS::ApiGatewayV2::RouteResponse").values()
    }
    deployment_needs = set()
    for deployment in resources(template, "AWS::ApiGatewayV2::Deployment").values():
        deployment_needs.update(as_list(deployment.get("DependsOn", [])))
    for key, (name, route) in sorted(routes.items()):
        target = refs(route["Properties"].get("Target"))
        if len(target) != 1 or next(iter(target)) not in integrations:
            problems.append(f"route {key!r} does not target an integration of this template")
            continue
        integration = integrations[next(iter(target))]["Properties"]
        if integration.get("IntegrationType") != "AWS_PROXY" or "GatewayFunction" not in refs(integration.get("IntegrationUri")):
            problems.append(f"route {key!r} does not reach GatewayFunction through a Lambda proxy integration")
        if name not in deployment_needs:
            problems.append(f"the Deployment does not wait for route {key!r} ({name})")
        if key not in ("$connect", "$disconnect"):
            if route["Properties"].get("RouteResponseSelectionExpression") != "$default" or name not in route_responses:
                problems.append(f"route {key!r} is not two-way (RouteResponseSelectionExpression + RouteResponse)")
    connect = routes.get("$connect", (None, {"Properties": {}}))[1]["Properties"]
    if connect.get("AuthorizationType") != "CUSTOM":
        problems.append("$connect is not behind the authorizer")
    else:
        authorizer = resources(template).get(next(iter(refs(connect.get("AuthorizerId"))), ""), {}).get("Properties", {})
        if authorizer.get("AuthorizerType") != "REQUEST" or authorizer.get("IdentitySource") != ["route.request.querystring.token"]:
            problems.append("the $connect authorizer must be REQUEST with identity source route.request.querystring.token")
        if "AuthorizerFunction" not in refs(authorizer.get("AuthorizerUri")):
            problems.append("the $connect authorizer does not call AuthorizerFunction")
    for key, (_, route) in routes.items():
        if key != "$connect" and route["Properties"].get("AuthorizationType") not in (None, "NONE"):
            problems.append(f"route {key!r} has an authorizer; WebSocket APIs authorise only $connect")
    return problems


def functions_are_rust_on_arm(template):
    problems = []
    binaries = set()
    for name, function in functions(template).items():
        properties = function["Properties"]
        if properties.get("Runtime") != "provided.al2023":
            problems.append(f"{name}: Runtime is {properties.get('Runtime')!r}, not provided.al2023")
        if properties.get("Architectures") != ["arm64"]:
            problems.append(f"{name}: Architectures is {properties.get('Architectures')!r}, not [arm64]")
        if properties.get("Handler") != "bootstrap":
            problems.append(f"{name}: Handler must be bootstrap")
        metadata = function.get("Metadata", {})
        if metadata.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{name}: BuildMethod is not rust-cargolambda")
        binary = metadata.get("BuildProperties", {}).get("Binary")
        binaries.add(binary)
        if properties.get("CodeUri") not in (".", "./"):
            problems.append(f"{name}: CodeUri must be the workspace root")
    if binaries != FUNCTION_BINARIES:
        problems.append(f"the functions build {sorted(map(str, binaries))}, not {sorted(FUNCTION_BINARIES)}")
    return problems


def only_registry_in_vpc(template):
    problems = []
    in_vpc = {name for name, f in functions(template).items() if f["Properties"].get("VpcConfig")}
    if in_vpc != {"RegistryFunction"}:
        problems.append(f"functions in the VPC: {sorted(in_vpc)}; only RegistryFunction may be")
    # Nothing in the VPC reaches the internet: no gateways, no NAT, no public addresses.
    for name, body in resources(template).items():
        if body["Type"] in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::EgressOnlyInternetGateway"):
            problems.append(f"{name}: {body['Type']} gives the private subnets a way out")
        if body["Type"] == "AWS::EC2::Subnet" and body["Properties"].get("MapPublicIpOnLaunch"):
            problems.append(f"{name}: a public subnet")
    # The cache admits only the registry's security group.
    registry_groups = set()
    for name in in_vpc & {"RegistryFunction"}:
        registry_groups = refs(functions(template)[name]["Properties"]["VpcConfig"].get("SecurityGroupIds"))
    for cache_name, cache in resources(template).items():
        if cache["Type"] not in ("AWS::ElastiCache::ServerlessCache", "AWS::ElastiCache::ReplicationGroup", "AWS::ElastiCache::CacheCluster"):
            continue
        groups = refs(cache["Properties"].get("SecurityGroupIds")) | refs(cache["Properties"].get("VpcSecurityGroupIds"))
        for group in groups:
            rules = [r["Properties"] for r in resources(template, "AWS::EC2::SecurityGroupIngress").values() if group in refs(r["Properties"].get("GroupId"))]
            rules += resources(template)[group]["Properties"].get("SecurityGroupIngress", [])
            if not rules:
                problems.append(f"{cache_name}: its security group {group} admits no one")
            for rule in rules:
                if refs(rule.get("SourceSecurityGroupId")) - registry_groups or not rule.get("SourceSecurityGroupId") or "CidrIp" in rule or "CidrIpv6" in rule:
                    problems.append(f"{cache_name}: security group {group} admits something other than the registry")
        users = {n for n, f in functions(template).items() if registry_groups & refs(f["Properties"].get("VpcConfig", {}).get("SecurityGroupIds"))}
        if users - {"RegistryFunction"}:
            problems.append(f"the registry's security group is also used by {sorted(users - {'RegistryFunction'})}")
        encrypted = cache["Type"] == "AWS::ElastiCache::ServerlessCache" or cache["Properties"].get("TransitEncryptionEnabled") is True
        if not encrypted:
            problems.append(f"{cache_name}: no encryption in transit")
    return problems


def queues_have_dead_letters(template):
    problems = []
    queues = resources(template, "AWS::SQS::Queue")
    dead_letter_targets = set()
    for name, queue in queues.items():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            target = refs(redrive.get("deadLetterTargetArn"))
            if len(target) != 1 or next(iter(target)) not in queues:
                problems.append(f"{name}: its dead-letter queue is not a queue of this template")
            if not isinstance(redrive.get("maxReceiveCount"), int) or redrive["maxReceiveCount"] < 1:
                problems.append(f"{name}: redrive without a maxReceiveCount")
            dead_letter_targets.update(target)
    for name in queues:
        if name not in dead_letter_targets and not queues[name]["Properties"].get("RedrivePolicy"):
            problems.append(f"{name}: neither has a dead-letter queue nor is one")
        if name in dead_letter_targets and queues[name]["Properties"].get("RedrivePolicy"):
            problems.append(f"{name}: a dead-letter queue with its own redrive")
    alarmed = set()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        if alarm["Properties"].get("Namespace") == "AWS/SQS":
            alarmed.update(refs(alarm["Properties"].get("Dimensions")))
    for name in sorted(dead_letter_targets - alarmed):
        problems.append(f"{name}: a dead-letter queue nobody is alarmed about")
    return problems


def consumers_match_their_queues(template):
    """SQS event sources report partial batch failures, and a message stays invisible long enough for the
    consumer to finish (six times its timeout) so it is not handed to a second consumer mid-flight. Each event
    source caps its concurrency, and together they leave the authorizer and gateway their share."""
    problems = []
    queues = resources(template, "AWS::SQS::Queue")
    consumed = set()
    all_functions = functions(template)
    for function, queue, event in consumers(template):
        consumed.add(queue)
        if event.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
            problems.append(f"{function}: its {queue} event source does not report batch item failures")
        timeout = all_functions[function]["Properties"].get("Timeout", 3)
        visibility = queues[queue]["Properties"].get("VisibilityTimeout", 30)
        if visibility < VISIBILITY_FACTOR * timeout:
            problems.append(f"{queue}: visibility timeout {visibility}s < {VISIBILITY_FACTOR} x {function}'s {timeout}s")
    consumer_concurrency = 0
    for function, queue, event in consumers(template):
        maximum = event.get("ScalingConfig", {}).get("MaximumConcurrency")
        if not isinstance(maximum, int) or maximum < 2:
            problems.append(f"{function}: its {queue} event source has no MaximumConcurrency (2 or more)")
        else:
            consumer_concurrency += maximum
    if consumer_concurrency > NEW_ACCOUNT_CONCURRENCY - KEPT_FOR_THE_EDGE:
        problems.append(
            f"the queue consumers may take {consumer_concurrency} concurrent executions; a new account has "
            f"{NEW_ACCOUNT_CONCURRENCY} and the authorizer and gateway need {KEPT_FOR_THE_EDGE}"
        )
    dead_letter_queues = {next(iter(refs(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]))) for q in queues.values() if q["Properties"].get("RedrivePolicy")}
    for name in sorted(set(queues) - dead_letter_queues - consumed):
        problems.append(f"{name}: no function consumes it")
    return problems


def queues_keep_each_groups_order(template):
    """Both queues are FIFO, ordered by message group (docs/aws.md, "Order under concurrency"): a
    connection's send never applies before its join. The SQS adapter sets MessageGroupId and a fresh
    deduplication id only on a URL ending in `.fifo`, so the name must end so; content-based deduplication
    would drop two equal frames a minute apart; high throughput mode (per group) lifts the 300 sends a second
    of a plain FIFO queue; a FIFO queue's dead-letter queue is FIFO; Lambda refuses a batching window and
    batches over 10 on FIFO event sources."""
    problems = []
    queues = resources(template, "AWS::SQS::Queue")
    for name, queue in queues.items():
        props = queue["Properties"]
        queue_name = props.get("QueueName")
        text = queue_name.get("Fn::Sub", "") if isinstance(queue_name, dict) else str(queue_name or "")
        if props.get("FifoQueue") is not True or not text.endswith(".fifo"):
            problems.append(f"{name}: not a FIFO queue named *.fifo")
        if not props.get("RedrivePolicy"):
            continue
        if props.get("ContentBasedDeduplication") is not False:
            problems.append(f"{name}: content-based deduplication drops equal frames sent apart")
        if props.get("DeduplicationScope") != "messageGroup" or props.get("FifoThroughputLimit") != "perMessageGroupId":
            problems.append(f"{name}: not in high throughput mode (deduplication and limit per message group)")
    for function, queue, event in consumers(template):
        if "MaximumBatchingWindowInSeconds" in event:
            problems.append(f"{function}: a batching window on the FIFO {queue}")
        if event.get("BatchSize", 10) > 10:
            problems.append(f"{function}: batches over 10 from the FIFO {queue}")
    return problems


def least_privilege(template):
    """Explicit roles only; ManageConnections for the sender alone, on this API's @connections; queue actions
    only on this template's queues; no Resource "*" except the VPC-attachment statement."""
    problems = []
    all_functions = functions(template)
    roles = resources(template, "AWS::IAM::Role")
    function_roles = {}
    for name, function in all_functions.items():
        role = role_of(function)
        if role not in roles:
            problems.append(f"{name}: no explicit role of this template (SAM's generated roles attach broad managed policies)")
        function_roles[role] = name
    queues = set(resources(template, "AWS::SQS::Queue"))
    for role_name, role in roles.items():
        if role_name in function_roles and role["Properties"].get("ManagedPolicyArns"):
            problems.append(f"{role_name}: a function role with managed policies")
    manage_connections = []
    for owner, document in policy_documents(template):
        for statement in statements(document):
            actions = as_list(statement.get("Action", []))
            resources_ = as_list(statement.get("Resource", []))
            allow = statement.get("Effect") == "Allow"
            if allow and "*" in resources_ and not set(actions) <= STAR_RESOURCE_ALLOWED_ACTIONS:
                problems.append(f"{owner}: Resource \"*\" for {actions}")
            if allow and any(a == "*" or a.endswith(":*") for a in actions):
                problems.append(f"{owner}: wildcard action {actions}")
            if allow and any(a.lower().startswith("execute-api:") for a in actions):
                manage_connections.append((owner, resources_))
            if allow and any(a.lower().startswith("sqs:") for a in actions):
                for resource in resources_:
                    named = refs(resource)
                    if resource == "*" or not named or not named <= queues:
                        problems.append(f"{owner}: queue actions on something other than this template's queues")
    owners = {owner for owner, _ in manage_connections}
    sender_role = role_of(all_functions.get("SenderFunction", {"Properties": {}}))
    if owners != {sender_role}:
        problems.append(f"execute-api permissions held by {sorted(map(str, owners))}; only the sender's role ({sender_role}) may")
    for owner, resources_ in manage_connections:
        for resource in resources_:
            text = resource.get("Fn::Sub") if isinstance(resource, dict) else resource
            if not isinstance(text, str) or not text.endswith("/POST/@connections/*") or "${ChatApi}" not in text:
                problems.append(f"{owner}: execute-api on {resource!r}, not this API's @connections")
    return problems


def roles_allow_what_functions_use(template):
    """The other side of least privilege: every queue a function is given (an environment variable naming it)
    it may send to, through its role and, inside the VPC, through the endpoint's policy. The functions send to
    every queue they are handed (gateway → commands; registry → deliveries; sender → commands for Forget,
    deliveries for retries: docs/aws.md)."""
    problems = []
    queues = set(resources(template, "AWS::SQS::Queue"))
    roles = resources(template, "AWS::IAM::Role")
    endpoint_allows = set()
    for endpoint in resources(template, "AWS::EC2::VPCEndpoint").values():
        for statement in statements(endpoint["Properties"].get("PolicyDocument", {})):
            if statement.get("Effect") == "Allow" and "sqs:SendMessage" in as_list(statement.get("Action", [])):
                endpoint_allows.update(refs(statement.get("Resource")))
    for name, function in functions(template).items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        handed = set()
        for value in variables.values():
            handed.update(refs(value) & queues)
        role = roles.get(role_of(function) or "", {"Properties": {}})
        sendable = set()
        for policy in role["Properties"].get("Policies", []):
            for statement in statements(policy["PolicyDocument"]):
                if statement.get("Effect") == "Allow" and "sqs:SendMessage" in as_list(statement.get("Action", [])):
                    sendable.update(refs(statement.get("Resource")))
        for queue in sorted(handed - sendable):
            problems.append(f"{name}: is given {queue} but its role may not send to it")
        if function["Properties"].get("VpcConfig"):
            for queue in sorted(handed - endpoint_allows):
                problems.append(f"{name}: is given {queue} but the VPC endpoint's policy does not let it send there")
    return problems


def logs_and_alarms(template):
    problems = []
    log_groups = resources(template, "AWS::Logs::LogGroup")
    for name, group in log_groups.items():
        if "RetentionInDays" not in group["Properties"]:
            problems.append(f"{name}: kept forever (no RetentionInDays)")
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    for name, function in functions(template).items():
        logging = function["Properties"].get("LoggingConfig", {})
        group = refs(logging.get("LogGroup"))
        if not group or not group <= set(log_groups):
            problems.append(f"{name}: does not log to a log group of this template")
        # Lambda's INFO records (START, END, REPORT) on every invocation are a cost per message.
        if logging.get("LogFormat") != "JSON" or logging.get("SystemLogLevel") not in ("WARN", "ERROR"):
            problems.append(f"{name}: Lambda's own INFO records logged on every invocation (JSON logs, SystemLogLevel WARN)")
        for metric in ("Errors", "Throttles"):
            if not any(a.get("Namespace") == "AWS/Lambda" and a.get("MetricName") == metric and name in refs(a.get("Dimensions")) for a in alarms):
                problems.append(f"{name}: no alarm on {metric}")
    for stage_name, stage in resources(template, "AWS::ApiGatewayV2::Stage").items():
        settings = stage["Properties"].get("DefaultRouteSettings", {})
        if not settings.get("ThrottlingRateLimit") or not settings.get("ThrottlingBurstLimit"):
            problems.append(f"{stage_name}: no throttling")
        access = stage["Properties"].get("AccessLogSettings", {})
        if not refs(access.get("DestinationArn")) <= set(log_groups) or not access.get("DestinationArn"):
            problems.append(f"{stage_name}: no access log group of this template")
        if "querystring" in str(access.get("Format", "")).lower():
            problems.append(f"{stage_name}: access logs would record the query string, which carries the ID token")
    return problems


def the_edge_is_throttled(template):
    """Every route has the stage's throttle, and `$connect` a bucket of its own below it, so junk handshakes
    (each an authorizer and a gateway run) are refused before they crowd out the message routes."""
    problems = []
    route_keys = {r["Properties"].get("RouteKey") for r in resources(template, "AWS::ApiGatewayV2::Route").values()}
    for stage_name, stage in resources(template, "AWS::ApiGatewayV2::Stage").items():
        default = stage["Properties"].get("DefaultRouteSettings", {})
        per_route = stage["Properties"].get("RouteSettings", {})
        for key in sorted(set(per_route) - route_keys):
            problems.append(f"{stage_name}: RouteSettings for {key!r}, which is no route of this API")
        connect = per_route.get("$connect", {})
        for limit in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
            own, shared = connect.get(limit), default.get(limit)
            if not isinstance(own, (int, float)) or not isinstance(shared, (int, float)) or not 0 < own < shared:
                problems.append(f"{stage_name}: $connect's {limit} ({own}) is not its own, below the routes' ({shared})")
    return problems


def the_cache_is_watched(template):
    """Each serverless cache has alarms on the ceilings its CacheUsageLimits set, with thresholds taken from
    them: storage at 75 % of the storage cap, ECPUs near the ECPU cap, and any throttled command."""
    problems = []
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]

    def alarm_on(cache, metric):
        return [
            a for a in alarms
            if a.get("Namespace") == "AWS/ElastiCache" and a.get("MetricName") == metric
            and any(d.get("Name") == "clusterId" and refs(d.get("Value")) == {cache} for d in a.get("Dimensions", []))
        ]

    for name, cache in resources(template, "AWS::ElastiCache::ServerlessCache").items():
        limits = cache["Properties"].get("CacheUsageLimits", {})
        storage = limits.get("DataStorage", {})
        if not storage.get("Maximum") or storage.get("Unit") not in BYTES_PER:
            problems.append(f"{name}: no storage cap (CacheUsageLimits.DataStorage) to bound the bill")
        else:
            cap = storage["Maximum"] * BYTES_PER[storage["Unit"]]
            found = alarm_on(name, "BytesUsedForCache")
            if not any(0 < a.get("Threshold", 0) <= CACHE_STORAGE_ALARM_FRACTION * cap for a in found):
                problems.append(f"{name}: no BytesUsedForCache alarm at {CACHE_STORAGE_ALARM_FRACTION:.0%} of its {cap} byte cap")
        ecpu_cap = limits.get("ECPUPerSecond", {}).get("Maximum")
        if ecpu_cap:
            low, high = (f * ecpu_cap for f in CACHE_ECPU_ALARM_FRACTIONS)
            found = alarm_on(name, "ElastiCacheProcessingUnits")
            if not any(a.get("Statistic") == "Sum" and low <= a.get("Threshold", 0) / a.get("Period", 1) <= high for a in found):
                problems.append(f"{name}: no ElastiCacheProcessingUnits alarm near its {ecpu_cap} ECPU/s cap")
        if not any(a.get("Threshold") == 0 for a in alarm_on(name, "ThrottledCmds")):
            problems.append(f"{name}: no alarm on ThrottledCmds")
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        if not alarm["Properties"].get("AlarmActions"):
            problems.append(f"{name}: an alarm that tells no one")
    return problems


def events_are_never_logged(template):
    """lambda_runtime logs every raw event at TRACE, and a `$connect` event carries the ID token in its query
    string: no function's configuration asks for TRACE, through RUST_LOG, AWS_LAMBDA_LOG_LEVEL or Lambda's
    ApplicationLogLevel. (The binaries pin lambda_runtime at INFO whatever these say: lambda::PINNED_TARGETS.)"""
    problems = []
    for name, function in functions(template).items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "RUST_LOG" not in variables:
            problems.append(f"{name}: no RUST_LOG (the level must be chosen, not inherited from a default)")
        for variable in ("RUST_LOG", "AWS_LAMBDA_LOG_LEVEL"):
            if "trace" in str(variables.get(variable, "")).lower():
                problems.append(f"{name}: {variable}={variables[variable]} would log whole events, tokens included")
        level = function["Properties"].get("LoggingConfig", {}).get("ApplicationLogLevel")
        if str(level).upper() == "TRACE":
            problems.append(f"{name}: ApplicationLogLevel TRACE would log whole events, tokens included")
    return problems


def pinned_log_targets():
    """The targets lambdas/src/lambda/mod.rs keeps at INFO whatever RUST_LOG says, read from the source."""
    source = (ROOT / "lambdas" / "src" / "lambda" / "mod.rs").read_text(encoding="utf-8")
    match = re.search(r"pub const PINNED_TARGETS: \[&str; \d+\] = \[([^\]]*)\]", source)
    assert match, "lambdas/src/lambda/mod.rs no longer declares PINNED_TARGETS"
    return re.findall(r'"([^"]+)"', match.group(1))


def account_settings_are_opt_in(template):
    """`AWS::ApiGateway::Account` is one setting per account and region: creating it replaces the role someone
    else set, and deleting the stack leaves it pointing at a deleted role. So it exists only under a condition
    on a parameter that defaults to "false" (`cargo xtask deploy` sets it where nothing else provides a role)."""
    problems = []
    parameters = template.get("Parameters", {})
    conditions = template.get("Conditions", {})
    for name, account in resources(template, "AWS::ApiGateway::Account").items():
        condition = account.get("Condition")
        names = _names(conditions.get(condition)) if condition else set()
        switches = [p for p in names if p in parameters]
        if not switches or any(parameters[p].get("Default") != "false" for p in switches):
            problems.append(f"{name}: the account's API Gateway role is set unless someone opts out")
    return problems


def sign_in_and_hosting(template):
    problems = []
    parameters = template.get("Parameters", {})
    for name, domain in resources(template, "AWS::Cognito::UserPoolDomain").items():
        default = domain["Properties"].get("Domain")
        if not {"AWS::StackName", "AWS::AccountId"} <= _names(default):
            problems.append(f"{name}: the default sign-in domain is not made of the stack name and the account id")
    if not parameters.get("GoogleClientSecret", {}).get("NoEcho"):
        problems.append("GoogleClientSecret is not NoEcho")
    for name, client in resources(template, "AWS::Cognito::UserPoolClient").items():
        p = client["Properties"]
        if p.get("GenerateSecret") is not False or p.get("AllowedOAuthFlows") != ["code"]:
            problems.append(f"{name}: not a public authorization-code client")
        if "Distribution" not in refs(p.get("CallbackURLs")) or "Distribution" not in refs(p.get("LogoutURLs")):
            problems.append(f"{name}: callback/logout URLs are not the CloudFront domain")
    for name, bucket in resources(template, "AWS::S3::Bucket").items():
        block = bucket["Properties"].get("PublicAccessBlockConfiguration", {})
        if not all(block.get(k) for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")):
            problems.append(f"{name}: public access is not blocked")
    for name, distribution in resources(template, "AWS::CloudFront::Distribution").items():
        config = distribution["Properties"]["DistributionConfig"]
        behaviors = [config["DefaultCacheBehavior"]] + config.get("CacheBehaviors", [])
        for behavior in behaviors:
            if behavior.get("ViewerProtocolPolicy") not in ("https-only", "redirect-to-https"):
                problems.append(f"{name}: serves over plain HTTP")
            if not behavior.get("ResponseHeadersPolicyId"):
                problems.append(f"{name}: a behaviour without the security headers")
        for origin in config["Origins"]:
            if "S3OriginConfig" in origin and not origin.get("OriginAccessControlId"):
                problems.append(f"{name}: S3 origin without Origin Access Control")
    for name, policy in resources(template, "AWS::CloudFront::ResponseHeadersPolicy").items():
        csp = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
        text = csp["ContentSecurityPolicy"]
        text = text["Fn::Sub"] if isinstance(text, dict) else text
        text = text[0] if isinstance(text, list) else text
        directives = {d.split()[0]: d.split()[1:] for d in (part.strip() for part in text.split(";")) if d}
        if directives.get("default-src") != ["'self'"]:
            problems.append(f"{name}: default-src is not 'self' alone")
        if any("unsafe-inline" in s or "unsafe-eval" == s.strip("'") for s in directives.get("script-src", [])):
            problems.append(f"{name}: script-src allows inline or eval'd scripts")
        connect = directives.get("connect-src", [])
        if not any(s.startswith("wss://${ChatApi}.") for s in connect) or not any("${AuthHost}" in s for s in connect):
            problems.append(f"{name}: connect-src does not name the WebSocket API and the Cognito domain")
        if set(connect) - {"'self'"} - {s for s in connect if s.startswith("wss://${ChatApi}.") or "${AuthHost}" in s}:
            problems.append(f"{name}: connect-src allows more than self, the WebSocket API and the Cognito domain")
    return problems


RULES = [
    websocket_api,
    routes_cover_the_protocol,
    functions_are_rust_on_arm,
    only_registry_in_vpc,
    queues_have_dead_letters,
    consumers_match_their_queues,
    queues_keep_each_groups_order,
    least_privilege,
    roles_allow_what_functions_use,
    logs_and_alarms,
    the_edge_is_throttled,
    the_cache_is_watched,
    events_are_never_logged,
    account_settings_are_opt_in,
    sign_in_and_hosting,
]
