"""Invoking the AdminFunction: boto3 `lambda.invoke` of one `{"command": ..., "args": {...}}` event, to AWS
(`--function-name`, or the `AdminFunctionName` output of `--stack-name`) or to a local stack (`--endpoint-url`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from scalelite_cli.errors import CLIError

Invoker = Callable[[dict[str, Any]], dict[str, Any]]
DEFAULT_FUNCTION = "AdminFunction"
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIAL = "testing"  # the local stack (moto) accepts any credentials


# -------------------------------------------------------------------------------------- invoking the function
def lambda_invoker(
    *, endpoint_url: str | None, stack_name: str | None, function_name: str | None, region: str | None
) -> Invoker:
    """An invoker for the AdminFunction through boto3 (one code path for AWS and the local stack)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError
    from botocore.parsers import ResponseParserError

    where = endpoint_url or "AWS"
    config = Config(connect_timeout=10, read_timeout=900, retries={"total_max_attempts": 1})

    def session() -> Any:
        # boto3 reads AWS_DEFAULT_REGION and the config files; AWS_REGION (what the AWS CLI v2 and Lambda set) is
        # honoured too, after those.
        base = boto3.session.Session(region_name=region)
        if base.region_name is None and os.environ.get("AWS_REGION"):
            base = boto3.session.Session(region_name=os.environ["AWS_REGION"])
        if endpoint_url is None:
            if base.region_name is None:
                raise CLIError("no AWS region configured: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION")
            return base
        # A local stack needs no real account: a machine without any AWS configuration must work too.
        try:
            credentials = base.get_credentials()
        except BotoCoreError:
            credentials = None
        if credentials is None:
            return boto3.session.Session(
                aws_access_key_id=LOCAL_CREDENTIAL,
                aws_secret_access_key=LOCAL_CREDENTIAL,
                region_name=base.region_name or LOCAL_REGION,
            )
        return base if base.region_name else boto3.session.Session(region_name=LOCAL_REGION)

    def guarded[T](call: Callable[[], T]) -> T:
        try:
            return call()
        except EndpointConnectionError as exc:
            raise CLIError(f"cannot reach {where}: {exc}") from None
        except NoCredentialsError:
            raise CLIError(
                "no AWS credentials found: configure them, or use --endpoint-url for a local stack"
            ) from None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise CLIError(f"{err.get('Code', 'error')}: {err.get('Message', str(exc))}") from None
        except BotoCoreError as exc:
            raise CLIError(f"{where}: {exc}") from None
        except ResponseParserError:  # something answered, but not an AWS API (a wrong port, a proxy page)
            raise CLIError(f"{where} did not answer like an AWS endpoint: check the URL") from None

    resolved: dict[str, Any] = {}

    def target() -> tuple[Any, str]:
        if not resolved:
            sess = session()
            name = function_name
            if name is None and stack_name:
                cfn = sess.client("cloudformation", endpoint_url=endpoint_url, config=config)
                stacks = guarded(lambda: cfn.describe_stacks(StackName=stack_name)["Stacks"])
                outputs = {o["OutputKey"]: o["OutputValue"] for o in (stacks[0].get("Outputs") or [])} if stacks else {}
                name = outputs.get("AdminFunctionName")
                if not name:
                    raise CLIError(f"stack {stack_name} has no AdminFunctionName output")
            resolved["client"] = sess.client("lambda", endpoint_url=endpoint_url, config=config)
            resolved["name"] = name or DEFAULT_FUNCTION
        return resolved["client"], resolved["name"]

    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        client, name = target()
        response = guarded(
            lambda: client.invoke(FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(payload))
        )
        raw = guarded(lambda: response["Payload"].read())
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise CLIError(f"the admin function {name} answered something that is not JSON") from None
        if response.get("FunctionError"):
            detail = body.get("errorMessage") if isinstance(body, dict) else None
            raise CLIError(f"the admin function {name} failed: {detail or response['FunctionError']}")
        if not isinstance(body, dict):
            raise CLIError(f"the admin function {name} gave an unexpected answer")
        return body

    return invoke
