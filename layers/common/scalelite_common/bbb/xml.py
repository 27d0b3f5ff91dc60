"""BBB XML: render our own envelopes, parse (untrusted) BBB replies with defusedxml."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from defusedxml import ElementTree as SafeET

from scalelite_common.errors import BBBError

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
Element = ET.Element


class MalformedXML(ValueError):
    pass


def _append(parent: ET.Element, name: str, value: Any) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, ET.Element):
        child.append(value)
    elif isinstance(value, Mapping):
        for key, sub in value.items():
            _append(child, key, sub)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def response(returncode: str = "SUCCESS", fields: Iterable[tuple[str, Any]] = ()) -> ET.Element:
    root = ET.Element("response")
    _append(root, "returncode", returncode)
    for name, value in fields:
        _append(root, name, value)
    return root


def to_bytes(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return XML_DECLARATION + body


def success(*fields: tuple[str, Any]) -> bytes:
    return to_bytes(response("SUCCESS", fields))


def failed(message_key: str, message: str) -> bytes:
    return to_bytes(response("FAILED", (("messageKey", message_key), ("message", message))))


def error_document(error: BBBError) -> bytes:
    return failed(error.message_key, error.message)


def parse(body: bytes) -> ET.Element:
    try:
        root = SafeET.fromstring(body)
    except (ET.ParseError, SafeET.ParseError, ValueError) as exc:
        raise MalformedXML(str(exc)) from exc
    except Exception as exc:  # defusedxml raises its own DTD/entity errors: all mean "not acceptable XML"
        raise MalformedXML(str(exc)) from exc
    if not isinstance(root, ET.Element):
        raise MalformedXML("not an XML element")
    return root


def text(root: ET.Element, path: str, default: str = "") -> str:
    node = root.find(path)
    return node.text.strip() if node is not None and node.text is not None else default
