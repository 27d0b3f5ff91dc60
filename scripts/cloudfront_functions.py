"""Keep the CloudFront Functions' code in template.yaml identical to their files in cloudfront/functions/.

    .venv/bin/python scripts/cloudfront_functions.py --write   # copy the files into template.yaml
    .venv/bin/python scripts/cloudfront_functions.py --check   # exit 1 if template.yaml differs (make lint)

The files are the source (unit-tested with Node: cloudfront/tests/); template.yaml inlines them, because an
AWS::CloudFront::Function takes its code inline. A placeholder in a file becomes CloudFormation in the template:
`__PLAYBACK_COOKIE_SECRET__` turns the code into an `!Join` around the dynamic reference
`{{resolve:secretsmanager:<PlaybackCookieSecret>:SecretString}}`, resolved when the stack is deployed (the
local edge substitutes its own key the same way, cloudfront/lib/load.cjs).

--write edits only the `FunctionCode:` block of each function resource, as text (the template's comments and
layout stay); --check compares the parsed template with what --write would produce.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from scalelite_local.template import CfnLoader

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
# logical id -> file (relative to the repository root)
FUNCTIONS = {
    "ApiViewerRequestFunction": "cloudfront/functions/api.js",
    "PlaybackViewerRequestFunction": "cloudfront/functions/playback.js",
    "RecordingViewerRequestFunction": "cloudfront/functions/recording.js",
}
# placeholder -> the items of the !Join that replace it (parsed form; YAML text in _yaml_item)
SUBSTITUTIONS: dict[str, list[Any]] = {
    "__PLAYBACK_COOKIE_SECRET__": [
        "{{resolve:secretsmanager:",
        {"Ref": "PlaybackCookieSecret"},
        ":SecretString}}",
    ],
}
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in SUBSTITUTIONS))
CODE_INDENT = 6  # `FunctionCode:` sits under `Properties:` of a resource


class CodeError(Exception):
    """A function file or the template cannot be processed."""


def _read_code(relative: str) -> str:
    text = (ROOT / relative).read_text(encoding="utf-8")
    if not text.endswith("\n") or text.endswith("\n\n"):
        raise CodeError(f"{relative} must end with exactly one newline")
    if "\t" in text or "\r" in text or any(line != line.rstrip() for line in text.split("\n")):
        raise CodeError(f"{relative}: no tabs, carriage returns or trailing spaces (YAML block scalars)")
    return text


def _pieces(text: str) -> list[str | list[Any]]:
    """The code split at its placeholders: text pieces and substitution items, in order."""
    pieces: list[str | list[Any]] = []
    last = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > last:
            pieces.append(text[last : match.start()])
        pieces.append(SUBSTITUTIONS[match.group(0)])
        last = match.end()
    if last < len(text):
        pieces.append(text[last:])
    return pieces


def expected_code(relative: str) -> Any:
    """FunctionCode as the parsed template must hold it: the text, or a !Join around the substitutions."""
    pieces = _pieces(_read_code(relative))
    if len(pieces) == 1 and isinstance(pieces[0], str):
        return pieces[0]
    items: list[Any] = []
    for piece in pieces:
        items.extend([piece] if isinstance(piece, str) else piece)
    return {"Fn::Join": ["", items]}


def _block(text: str, indent: int) -> list[str]:
    """A YAML literal block scalar (header + lines) holding `text` exactly."""
    if text.startswith((" ", "\n")):
        raise CodeError("a code piece may not start with a space or an empty line")
    body = text[:-1] if text.endswith("\n") else text
    header = "|" if text.endswith("\n") else "|-"
    pad = " " * indent
    return [header] + [f"{pad}{line}" if line else "" for line in body.split("\n")]


def _yaml_item(item: Any) -> str:
    if isinstance(item, dict) and set(item) == {"Ref"}:
        return f"!Ref {item['Ref']}"
    if isinstance(item, str) and '"' not in item and "\\" not in item:
        return f'"{item}"'
    raise CodeError(f"cannot write substitution item {item!r}")


def render_code(relative: str) -> list[str]:
    """The `FunctionCode:` lines of template.yaml for that file."""
    pieces = _pieces(_read_code(relative))
    key = " " * CODE_INDENT + "FunctionCode: "
    if len(pieces) == 1 and isinstance(pieces[0], str):
        header, *body = _block(pieces[0], CODE_INDENT + 2)
        return [key + header, *body]
    lines = [key + "!Join", " " * (CODE_INDENT + 2) + '- ""']
    for piece in pieces:
        if isinstance(piece, str):
            header, *body = _block(piece, CODE_INDENT + 6)
            entries = [(header, body)]
        else:
            entries = [(_yaml_item(item), []) for item in piece]
        for head, body in entries:
            dash = "- - " if len(lines) == 2 else "  - "  # the first item opens the inner list
            lines.append(" " * (CODE_INDENT + 2) + dash + head)
            lines.extend(body)
    return lines


def _code_span(lines: list[str], logical_id: str) -> tuple[int, int]:
    """[start, end) of the FunctionCode block of a resource in the template's lines."""
    try:
        start = lines.index(f"  {logical_id}:")
    except ValueError:
        raise CodeError(f"template.yaml has no resource {logical_id}") from None
    end_of_resource = next(
        (i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith("   ")), len(lines)
    )
    key = " " * CODE_INDENT + "FunctionCode:"
    code = next((i for i in range(start + 1, end_of_resource) if lines[i].startswith(key)), None)
    if code is None:
        raise CodeError(f"{logical_id} has no FunctionCode at indentation {CODE_INDENT}")
    end = code + 1
    while end < end_of_resource and (not lines[end] or len(lines[end]) - len(lines[end].lstrip()) > CODE_INDENT):
        end += 1
    while end > code + 1 and not lines[end - 1]:  # blank lines after the block belong to the layout
        end -= 1
    return code, end


def write(template: Path) -> None:
    lines = template.read_text(encoding="utf-8").split("\n")
    for logical_id, relative in FUNCTIONS.items():
        start, end = _code_span(lines, logical_id)
        lines[start:end] = render_code(relative)
    template.write_text("\n".join(lines), encoding="utf-8")


def differences(template: Path) -> list[str]:
    """The functions whose FunctionCode in the template is not their file's code."""
    loaded = yaml.load(template.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    resources = loaded.get("Resources", {}) if isinstance(loaded, dict) else {}
    wrong = []
    for logical_id, relative in FUNCTIONS.items():
        resource = resources.get(logical_id)
        actual = (resource or {}).get("Properties", {}).get("FunctionCode")
        if actual != expected_code(relative):
            wrong.append(f"{logical_id}: FunctionCode differs from {relative}")
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="copy the function files into the template")
    mode.add_argument("--check", action="store_true", help="exit 1 if the template differs from the files")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    try:
        if args.write:
            write(args.template)
        wrong = differences(args.template)
    except (CodeError, OSError, yaml.YAMLError) as exc:
        print(f"cloudfront_functions: {exc}", file=sys.stderr)
        return 1
    for line in wrong:
        print(f"cloudfront_functions: {line}", file=sys.stderr)
    if wrong and args.check:
        print("cloudfront_functions: run `.venv/bin/python scripts/cloudfront_functions.py --write`", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
