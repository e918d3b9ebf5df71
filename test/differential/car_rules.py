"""The reference oracle for test/differential: how CAR 2.2.3 reads a ticket file, a DISPATCH.md or a
USER_REPLY.md.

The rules are restated from CAR's source (tickets/files.py read_ticket, tickets/frontmatter.py,
tickets/lint.py, tickets/outbox.py parse_dispatch, tickets/replies.py parse_user_reply,
agents/hermes_identity.py), with PyYAML's safe_load doing the YAML, as in CAR. Input on stdin, one
JSON document:
  {"agents": [ids], "cases": [{"kind": "ticket"|"dispatch"|"reply", "name": str, "b64": str}]}
Output on stdout: a JSON list with one verdict per case (see ticket(), dispatch() and reply()).

Values are written as JSON with markers for what JSON lacks: {"$timestamp": source text},
{"$float": "nan"|"inf"|"-inf"}, {"$bytes": base64}, {"$set": [...]}, and {"$map": [[key, value]...]}
for a mapping with a key that is not a string.
"""

import base64
import datetime
import hashlib
import json
import math
import re
import sys
from pathlib import PurePosixPath

import yaml

# CAR's regexes. Python's `\s` is Unicode whitespace and `\d` any Unicode decimal digit; `$` also
# matches before a final "\n"; IGNORECASE folds as Python's re does.
TICKET_NAME_RE = re.compile(r"^TICKET-(\d{3,})(?:[^/]*)\.md$", re.IGNORECASE)
FRONTMATTER_START = re.compile(r"^---\s*$")
FRONTMATTER_END = re.compile(r"^(---|\.\.\.)\s*$")
TICKET_ID_RE = re.compile(r"^[A-Za-z0-9._-]{6,128}$")
DISPATCH_MODES = ("notify", "pause", "turn_summary")


class Timestamp:
    """A YAML timestamp PyYAML constructed (a date or datetime in CAR), kept with its source text."""

    def __init__(self, source):
        self.source = source


class Loader(yaml.SafeLoader):
    pass


def construct_timestamp(loader, node):
    yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # raises on an impossible date, as in CAR
    return Timestamp(node.value)


Loader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)


def safe_load(text):
    """yaml.safe_load, with timestamps marked. Any exception is CAR failing to read the YAML."""
    return yaml.load(text, Loader=Loader)


def encode(value):
    if isinstance(value, Timestamp):
        return {"$timestamp": value.source}
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return {"$float": "nan"}
        if math.isinf(value):
            return {"$float": "inf" if value > 0 else "-inf"}
        return value
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (set, frozenset)):
        return {"$set": [encode(v) for v in value]}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"$map": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, (datetime.date, datetime.datetime)):
        return {"$timestamp": value.isoformat()}
    raise TypeError(f"cannot encode {type(value).__name__}")


def read_text(data):
    """Path.read_text(encoding="utf-8"): strict UTF-8, universal newlines. None when it raises."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_frontmatter(text):
    """(yaml or None, body, why): frontmatter.split_markdown_frontmatter plus why there is none."""
    if not text:
        return None, "", "empty-file"
    lines = text.splitlines()
    if not FRONTMATTER_START.match(lines[0]):
        return None, text, "frontmatter-missing"
    end = next((i for i in range(1, len(lines)) if FRONTMATTER_END.match(lines[i])), None)
    if end is None:
        return None, text, "frontmatter-unclosed"
    body = "\n".join(lines[end + 1 :])
    if body and not body.startswith("\n"):
        body = "\n" + body
    return "\n".join(lines[1:end]), body, None


def load_frontmatter(fm_yaml):
    """(data, why): parse_yaml_frontmatter, which reads an unparseable or non-mapping YAML as {}."""
    try:
        loaded = safe_load(fm_yaml)
    except Exception as exc:  # CAR catches YAMLError; others (an impossible date) escape: unreadable
        return {}, "yaml-invalid" if isinstance(exc, yaml.YAMLError) else "yaml-crash"
    if loaded is None or loaded == {}:
        return {}, "frontmatter-empty"
    if not isinstance(loaded, dict):
        return {}, "frontmatter-not-mapping"
    return loaded, None


def optional_str(value):
    if isinstance(value, str):
        return value.strip() or None
    return None


def sanitize_ticket_id(raw):
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    return value if value and TICKET_ID_RE.match(value) else None


def context_entries(raw):
    """(entries, error classes): lint._parse_context_entries; an entry stops at its first error."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], ["context"]
    entries, errors = [], []
    for item in raw:
        if not isinstance(item, dict):
            errors.append("context")
            continue
        path = optional_str(item.get("path"))
        if not path or path.startswith("/") or "\\" in path or ".." in PurePosixPath(path).parts:
            errors.append("context")
            continue
        max_bytes = item.get("max_bytes")
        if max_bytes is not None and not (isinstance(max_bytes, int) and max_bytes > 0):
            errors.append("context")
            continue
        required = item.get("required", False)
        if not isinstance(required, bool):
            errors.append("context")
            continue
        entries.append(
            {"path": path, "max_bytes": None if max_bytes is None else int(max_bytes), "required": required}
        )
    return entries, errors


def canonical_agent(agent, profile):
    """hermes_identity.canonicalize_hermes_identity with CAR's built-in agents and no config aliases:
    lowercased, and `hermes-<p>` / `hermes_<p>` is agent hermes with profile <p> unless one is given."""
    normalized = agent.strip().lower()
    profile = (profile.strip().lower() or None) if isinstance(profile, str) else None
    for prefix in ("hermes-", "hermes_"):
        if normalized.startswith(prefix) and normalized[len(prefix) :].strip():
            return "hermes", profile or normalized[len(prefix) :].strip()
    return normalized, profile


def ticket(case, agents):
    """{"classes": [error classes], "notes": [...], "fields": {...} or null (when invalid)}."""
    notes = []
    name = TICKET_NAME_RE.match(case["name"])
    if not name:
        return {"classes": ["filename"], "notes": notes, "fields": None}
    text = read_text(case["data"])
    if text is None:
        return {"classes": ["read"], "notes": notes, "fields": None}
    if text.startswith("\ufeff"):
        notes.append("bom")
    fm_yaml, _body, why = split_frontmatter(text)
    data = {}
    if fm_yaml is not None:
        data, why = load_frontmatter(fm_yaml)
    if why:
        return {"classes": [why], "notes": notes, "fields": None}

    errors = []
    raw_id = data.get("ticket_id")
    ticket_id = sanitize_ticket_id(raw_id)
    if raw_id is not None and ticket_id is None:
        errors.append("ticket-id")
    if ticket_id is None:
        identity = ".codex-autorunner/tickets/" + case["name"]
        ticket_id = "tkt_auto_" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
    agent = optional_str(data.get("agent"))
    if not agent:
        errors.append("agent")
    done = data.get("done")
    if not isinstance(done, bool):
        errors.append("done")
    profile = None
    if data.get("profile") is not None:
        profile = optional_str(data.get("profile"))
        if profile is None:
            errors.append("profile")
    if agent and not errors and agent != "user":
        agent, profile = canonical_agent(agent, profile)
        if agent not in agents:
            errors.append("agent-invalid")
    context, context_errors = context_entries(data.get("context"))
    errors.extend(context_errors)
    if errors:
        return {"classes": sorted(set(errors)), "notes": notes, "fields": None}
    known = ("ticket_id", "agent", "done", "title", "goal", "model", "reasoning", "profile", "context")
    fields = {
        "ticket_id": ticket_id,
        "agent": agent,
        "done": done,
        "title": optional_str(data.get("title")),
        "goal": optional_str(data.get("goal")),
        "model": optional_str(data.get("model")),
        "reasoning": optional_str(data.get("reasoning")),
        "profile": profile,
        "context": context,
        "extra": encode({k: v for k, v in data.items() if k not in known}),
    }
    return {"classes": [], "notes": notes, "index": int(name.group(1)), "fields": fields}


def dispatch(case):
    """outbox.parse_dispatch: {"classes", "notes" (what CAR read as plain notify), "mode", "title",
    "body", "extra"}. CAR reads unparseable or non-mapping frontmatter as none (notes say which)."""
    notes = []
    text = read_text(case["data"])
    if text is None:
        return {"classes": ["read"], "notes": notes}
    if text.startswith("\ufeff"):
        notes.append("bom")
    fm_yaml, body, why = split_frontmatter(text)
    data = {}
    if why == "frontmatter-unclosed":
        notes.append(why)
    if fm_yaml is not None:
        data, why = load_frontmatter(fm_yaml)
        if why in ("yaml-invalid", "yaml-crash", "frontmatter-not-mapping"):
            notes.append(why)
    raw_mode = data.get("mode")
    if raw_mode is not None and not isinstance(raw_mode, str):
        notes.append("mode-not-string")
    mode = raw_mode.strip().lower() if isinstance(raw_mode, str) else "notify"
    if mode not in DISPATCH_MODES:
        return {"classes": ["mode"], "notes": notes}
    title = data.get("title")
    extra = encode({k: v for k, v in data.items() if k not in ("mode", "title")})
    return {
        "classes": [],
        "notes": notes,
        "mode": mode,
        "title": title.strip() if isinstance(title, str) and title.strip() else None,
        "body": body.lstrip("\n"),
        "extra": extra,
    }


def reply(case):
    """replies.parse_user_reply: {"classes", "notes" (what CAR read otherwise than as frontmatter),
    "title", "body", "extra"}. CAR refuses nothing it can decode: frontmatter that does not parse or is
    not a mapping is dropped (notes say which); a ValueError (an impossible date) escapes its YAMLError
    handler, and a file that is not UTF-8 raises in read_text (classes "yaml-crash", "read")."""
    notes = []
    text = read_text(case["data"])
    if text is None:
        return {"classes": ["read"], "notes": notes}
    if text.startswith("\ufeff"):
        notes.append("bom")
    fm_yaml, body, _why = split_frontmatter(text)
    data = {}
    if fm_yaml is not None:
        try:
            loaded = safe_load(fm_yaml)
        except yaml.YAMLError:
            notes.append("yaml-invalid")
            loaded = {}
        except Exception:  # noqa: BLE001 - what CAR does not catch
            return {"classes": ["yaml-crash"], "notes": notes}
        if isinstance(loaded, dict):
            data = loaded
        elif loaded is not None:
            notes.append("frontmatter-not-mapping")
    title = data.get("title")
    return {
        "classes": [],
        "notes": notes,
        "title": title.strip() if isinstance(title, str) and title.strip() else None,
        "body": body.lstrip("\n"),
        "extra": encode({k: v for k, v in data.items() if k != "title"}),
    }


def main():
    request = json.load(sys.stdin)
    agents = set(request["agents"])
    out = []
    for case in request["cases"]:
        case["data"] = base64.b64decode(case["b64"])
        if case["kind"] == "ticket":
            out.append(ticket(case, agents))
        elif case["kind"] == "dispatch":
            out.append(dispatch(case))
        else:
            out.append(reply(case))
    json.dump(out, sys.stdout, ensure_ascii=True, allow_nan=False)


if __name__ == "__main__":
    sys.setrecursionlimit(10_000)
    main()
