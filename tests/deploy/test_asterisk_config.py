"""Static checks of the Asterisk sample (deploy/asterisk/). Asterisk is not packaged in this
Debian, so the dialplan cannot be loaded here: these tests read the files the way Asterisk's
config parser does (sections, `exten =>` / `same =>`, priorities and labels, templates) and
check what can be checked without it. deploy/README.md says what that proves and what not.

- extensions.conf: every `same =>` follows an `exten =>` of its context; every Goto, GotoIf,
  GotoIfTime and Gosub target (context, extension, priority or label) exists; every channel
  of Dial() is an endpoint of pjsip.conf (or a Local leg of the dialplan); every ${VARIABLE}
  is a global, set by the dialplan, or one Asterisk sets; System() receives only filtered
  values, quoted; each context a PJSIP endpoint starts in exists.
- pjsip.conf (with the trunk example it includes): every section has a known `type`; every
  reference (aors, auth, outbound_auth, transport, endpoint) names a section of that type.
- rtp.conf: its port range is the one docker-compose.yml publishes.
- The compose service mounts each file where the dialplan and the image expect it.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ASTERISK = REPO / "deploy" / "asterisk"
EXTENSIONS = ASTERISK / "extensions.conf"
PJSIP = ASTERISK / "pjsip.conf"
TRUNK_EXAMPLE = ASTERISK / "pjsip-trunk.conf.example"
RTP = ASTERISK / "rtp.conf"
MODULES = ASTERISK / "modules.conf"
DOCKERFILE = ASTERISK / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"

# Channel variables Asterisk itself sets (read by this dialplan).
BUILTIN_VARIABLES = {
    "EXTEN", "CONTEXT", "PRIORITY", "UNIQUEID", "EPOCH", "CHANNEL", "DIALSTATUS",
    "SYSTEMSTATUS", "RECORD_STATUS", "PLAYBACKSTATUS", "HANGUPCAUSE",
}  # fmt: skip
# What System() may receive: the script's path and values the dialplan filtered itself.
SYSTEM_VARIABLES = {"ENCOMBOT_WEBHOOK", "CALL_ID", "CALLER", "RECEIVED_AT", "VM_FILE"}
PJSIP_TYPES = {
    "global", "system", "transport", "endpoint", "aor", "auth", "identify", "registration",
    "acl", "domain_alias", "contact", "phoneprov", "outbound-publish", "resource_list",
}  # fmt: skip


def strip_comment(line: str) -> str:
    out = []
    escaped = False
    for char in line:
        if char == ";" and not escaped:
            break
        escaped = char == "\\" and not escaped
        out.append(char)
    return "".join(out).rstrip()


# --------------------------------------------------------------------------- extensions.conf


@dataclass
class Step:
    priority: int
    label: str | None
    app: str
    args: str
    line: int


@dataclass
class Dialplan:
    globals: dict[str, str] = field(default_factory=dict)
    contexts: dict[str, dict[str, list[Step]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


_SECTION = re.compile(r"^\[([^\]]+)\](\([^)]*\))?$")
_EXTEN = re.compile(r"^exten\s*=>\s*([^,]+),([^,]+),(.*)$")
_SAME = re.compile(r"^same\s*=>\s*([^,]+),(.*)$")
_PRIORITY = re.compile(r"^(\d+|n)(?:\(([A-Za-z0-9_-]+)\))?$")
_APP = re.compile(r"^([A-Za-z]+)\((.*)\)$")


def _app(text: str) -> tuple[str, str]:
    match = _APP.match(text.strip())
    assert match, f"not an application call: {text!r}"
    return match.group(1), match.group(2)


@functools.cache
def dialplan() -> Dialplan:
    plan = Dialplan()
    context: str | None = None
    current: str | None = None  # the extension `same =>` continues
    last = 0
    for number, raw in enumerate(EXTENSIONS.read_text(encoding="utf-8").splitlines(), 1):
        line = strip_comment(raw).strip()
        if not line:
            continue
        section = _SECTION.match(line)
        if section:
            context, current = section.group(1), None
            if context not in ("general", "globals"):
                assert context not in plan.contexts, f"line {number}: [{context}] twice"
                plan.contexts[context] = {}
            continue
        assert context is not None, f"line {number}: outside any section"
        if context == "globals":
            name, _, value = line.partition("=")
            plan.globals[name.strip()] = value.strip()
            continue
        if context == "general":
            continue
        exten = _EXTEN.match(line)
        same = _SAME.match(line)
        if exten:
            current, priority_text, rest = exten.groups()
            current = current.strip()
        elif same:
            if current is None:
                plan.errors.append(f"line {number}: `same =>` with no `exten =>` before it")
                continue
            priority_text, rest = same.groups()
        else:
            plan.errors.append(f"line {number}: not an extension line: {line!r}")
            continue
        prio = _PRIORITY.match(priority_text.strip())
        assert prio, f"line {number}: priority {priority_text!r}"
        if prio.group(1) == "n":
            if exten:
                plan.errors.append(f"line {number}: an extension starts at priority n")
            priority = last + 1
        else:
            priority = int(prio.group(1))
        last = priority
        app, args = _app(rest)
        steps = plan.contexts[context].setdefault(current, [])
        if exten and steps:
            plan.errors.append(f"line {number}: {current}@{context} defined twice")
        steps.append(Step(priority, prio.group(2), app, args, number))
    return plan


def all_steps() -> list[tuple[str, str, Step]]:
    return [
        (context, exten, step)
        for context, extens in dialplan().contexts.items()
        for exten, steps in extens.items()
        for step in steps
    ]


def resolve(target: str, context: str, exten: str) -> str | None:
    """None when the Goto-style target exists, else why not."""
    parts = [part.strip() for part in target.split(",")]
    if len(parts) == 1:
        ctx, ext, prio = context, exten, parts[0]
    elif len(parts) == 2:
        ctx, ext, prio = context, parts[0], parts[1]
    elif len(parts) == 3:
        ctx, ext, prio = parts
    else:
        return f"cannot read target {target!r}"
    contexts = dialplan().contexts
    if ctx not in contexts:
        return f"no context [{ctx}]"
    if ext not in contexts[ctx]:
        return f"no extension {ext!r} in [{ctx}]"
    steps = contexts[ctx][ext]
    if prio.isdigit():
        return None if any(s.priority == int(prio) for s in steps) else f"no priority {prio}"
    return None if any(s.label == prio for s in steps) else f"no label {prio!r} in {ext}@{ctx}"


def _branches(args: str) -> list[str]:
    """The targets of GotoIf(cond?a:b) / GotoIfTime(spec?a:b)."""
    _, _, targets = args.rpartition("?")
    return [t for t in targets.split(":") if t.strip()]


def test_dialplan_reads() -> None:
    assert not dialplan().errors, "\n".join(dialplan().errors)
    assert {"encombot-inbound", "encombot-live", "encombot-agents", "encombot-night"} <= set(
        dialplan().contexts
    )


def test_every_jump_target_exists() -> None:
    checked = 0
    problems = []
    for context, exten, step in all_steps():
        if step.app == "Goto":
            targets = [step.args]
        elif step.app in ("GotoIf", "GotoIfTime"):
            targets = _branches(step.args)
        elif step.app == "Gosub":
            targets = [step.args.split("(")[0]]
        else:
            continue
        for target in targets:
            checked += 1
            assert "${" not in target, f"line {step.line}: computed target {target!r}"
            why = resolve(target, context, exten)
            if why:
                problems.append(f"line {step.line}: {step.app}({target}): {why}")
    assert not problems, "\n".join(problems)
    assert checked >= 25


def test_labels_are_unique_per_extension() -> None:
    for context, extens in dialplan().contexts.items():
        for exten, steps in extens.items():
            labels = [s.label for s in steps if s.label]
            assert len(labels) == len(set(labels)), f"{exten}@{context}: {labels}"
            priorities = [s.priority for s in steps]
            assert priorities == list(range(1, len(steps) + 1)), f"{exten}@{context}"


@functools.cache
def pjsip_sections() -> list[tuple[str, dict[str, list[str]], bool]]:
    """(name, options, is_template) of pjsip.conf and the trunk example it includes, with
    templates applied and `(+)` additions merged."""
    templates: dict[str, dict[str, list[str]]] = {}
    sections: list[tuple[str, dict[str, list[str]], bool]] = []
    text = PJSIP.read_text("utf-8") + "\n" + TRUNK_EXAMPLE.read_text("utf-8")
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = strip_comment(raw).strip()
        if not line or line.startswith("#"):
            continue
        section = _SECTION.match(line)
        if section:
            name, modifiers = section.group(1), (section.group(2) or "()")[1:-1]
            flags = [m.strip() for m in modifiers.split(",") if m.strip()]
            if flags == ["+"]:
                matches = [s for s in sections if s[0] == name]
                assert matches, f"line {number}: [{name}](+) adds to no section"
                current = matches[-1][1]
                continue
            current = {}
            for parent in (f for f in flags if f != "!"):
                assert parent in templates, f"line {number}: unknown template {parent}"
                for key, values in templates[parent].items():
                    current.setdefault(key, []).extend(values)
            if "!" in flags:
                templates[name] = current
            sections.append((name, current, "!" in flags))
            continue
        assert current is not None, f"line {number}: option outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"line {number}: not key=value: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip().lstrip(">").strip())
    return sections


def pjsip_names(kind: str) -> set[str]:
    return {
        name
        for name, options, template in pjsip_sections()
        if not template and options.get("type", [""])[-1] == kind
    }


def dial_channels(argument: str) -> list[str]:
    channels = argument.split(",")[0]
    for name, value in dialplan().globals.items():
        channels = channels.replace("${" + name + "}", value)
    return channels.split("&")


def test_dial_targets_are_pjsip_endpoints() -> None:
    """Dial() rings the agents' PJSIP phones, or runs a leg of this dialplan (the bot's, in a
    Local channel whose extension exists)."""
    endpoints = pjsip_names("endpoint")
    dials = [step for _, _, step in all_steps() if step.app == "Dial"]
    assert dials
    for step in dials:
        channels = dial_channels(step.args)
        if channels[0].startswith("Local/"):
            exten, _, where = channels[0].removeprefix("Local/").partition("@")
            assert exten in dialplan().contexts[where.split("/")[0]], channels[0]
            continue
        assert len(channels) >= 2, "the agents' group rings several phones"
        for channel in channels:
            tech, _, resource = channel.partition("/")
            assert tech == "PJSIP", channel
            assert resource in endpoints, f"line {step.line}: {channel} is not in pjsip.conf"


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?=[}:])")


def test_variables_are_defined() -> None:
    defined = set(dialplan().globals) | BUILTIN_VARIABLES
    for _, _, step in all_steps():
        if step.app == "Set":
            name = step.args.split("=", 1)[0].lstrip("_")
            if "(" not in name:
                defined.add(name)
    used: dict[str, int] = {}
    for _, _, step in all_steps():
        for name in _VARIABLE.findall(step.args):
            used.setdefault(name, step.line)
    for value in dialplan().globals.values():
        for name in _VARIABLE.findall(value):
            used.setdefault(name, 0)
    missing = {name: line for name, line in used.items() if name not in defined}
    assert not missing, f"variables never set (name: first line): {missing}"


def test_system_gets_filtered_quoted_values_only() -> None:
    calls = [step for _, _, step in all_steps() if step.app == "System"]
    assert len(calls) >= 5
    for step in calls:
        names = set(_VARIABLE.findall(step.args))
        assert names <= SYSTEM_VARIABLES | {"ENCOMBOT_WEBHOOK"}, (step.line, names)
        for name in names - {"ENCOMBOT_WEBHOOK"}:
            assert f"'${{{name}}}'" in step.args, f"line {step.line}: ${{{name}}} unquoted"
    setters = {
        step.args.split("=", 1)[0]: step.args
        for _, _, step in all_steps()
        if step.app == "Set" and "=" in step.args
    }
    assert setters["CALL_ID"].startswith("CALL_ID=${FILTER(0-9A-Za-z._,")
    assert setters["CALLER"].startswith("CALLER=${FILTER(0-9+,")
    assert setters["VM_FILE"].startswith("VM_FILE=${ENCOMBOT_SPOOL}/vm-${CALL_ID}")


def test_the_night_path() -> None:
    night = dialplan().contexts["encombot-night"]
    apps = [step.app for step in night["start"]]
    assert apps.index("Playback") < apps.index("Record")
    record = next(step for step in night["start"] if step.app == "Record")
    options = record.args.split(",")[3]
    assert "k" in options, "keep the recording when the caller hangs up"
    assert "q" not in options, "the caller hears the beep"
    hangup = " ".join(step.args for step in night["h"])
    assert "encombot-webhook" not in hangup  # through the global, not a literal path
    systems = [step.args for step in night["h"] if step.app == "System"]
    assert any(" voicemail " in args and "--audio=" in args for args in systems)
    assert any(" missed-call " in args for args in systems)
    for context in ("encombot-inbound", "encombot-live", "encombot-agents"):
        systems = [s.args for s in dialplan().contexts[context]["h"] if s.app == "System"]
        assert any(" missed-call " in args for args in systems), context


def test_live_calls_fall_back_to_a_person() -> None:
    """The bot's leg (AudioSocket) runs in a Local channel, after the probe: its failure ends
    that leg only (the decisions themselves: tests/deploy/test_dialplan_decisions.py)."""
    live = dialplan().contexts["encombot-live"]["start"]
    apps = [step.app for step in live]
    dial = apps.index("Dial")
    assert dial > apps.index("Answer")
    assert live[dial].args.startswith("Local/bot@encombot-bot-leg") and live[dial].args.endswith(
        ",g"
    )
    leg = [step.app for step in dialplan().contexts["encombot-bot-leg"]["bot"]]
    assert leg == ["Answer", "AudioSocket", "Hangup"]
    probe = apps.index("Answer") - 1
    assert live[probe].app == "GotoIf" and "PROBE" in live[probe].args
    assert resolve(_branches(live[probe].args)[0], "encombot-live", "start") is None
    agents = dialplan().contexts["encombot-agents"]["start"]
    after_dial = [
        s for s in agents if s.priority > next(a.priority for a in agents if a.app == "Dial")
    ]
    assert any(s.app == "Goto" and s.args.startswith("encombot-night") for s in after_dial)


def test_pjsip_contexts_exist_in_the_dialplan() -> None:
    for name, options, _ in pjsip_sections():
        for context in options.get("context", []):
            assert context in dialplan().contexts, f"[{name}] context={context}"
    inbound = [o for n, o, t in pjsip_sections() if n == "operator" and o["type"][-1] == "endpoint"]
    assert inbound and inbound[0]["context"][-1] == "encombot-inbound"


# --------------------------------------------------------------------------- pjsip.conf


def test_pjsip_sections_have_a_type() -> None:
    for name, options, _ in pjsip_sections():
        assert options.get("type"), f"[{name}] has no type"
        assert options["type"][-1] in PJSIP_TYPES, f"[{name}] type={options['type'][-1]}"


def test_pjsip_references_resolve() -> None:
    kinds = {"aors": "aor", "auth": "auth", "outbound_auth": "auth", "transport": "transport"}
    for name, options, template in pjsip_sections():
        if template:
            continue
        for key, kind in kinds.items():
            for value in options.get(key, []):
                for ref in value.split(","):
                    assert ref.strip() in pjsip_names(kind), f"[{name}] {key}={ref}"
        if options["type"][-1] == "identify":
            assert options["endpoint"][-1] in pjsip_names("endpoint"), name
    agents = pjsip_names("endpoint") - {"operator"}
    assert len(agents) >= 2
    assert agents <= pjsip_names("auth") and agents <= pjsip_names("aor")


def test_trunk_credentials_stay_out_of_git() -> None:
    assert "#tryinclude local/pjsip-trunk.conf" in PJSIP.read_text("utf-8")
    assert (ASTERISK / "local" / ".gitignore").read_text("utf-8").strip().endswith("*.conf")
    assert "password=OPERATOR_SIP_PASSWORD" in TRUNK_EXAMPLE.read_text("utf-8")


# --------------------------------------------------------------------------- rtp.conf, compose


@functools.cache
def asterisk_service() -> dict[str, object]:
    service = yaml.safe_load(COMPOSE.read_text("utf-8"))["services"]["asterisk"]
    assert isinstance(service, dict)
    return service


def rtp_range() -> tuple[int, int]:
    values = {}
    for raw in RTP.read_text("utf-8").splitlines():
        key, sep, value = strip_comment(raw).partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return int(values["rtpstart"]), int(values["rtpend"])


def test_rtp_range_is_published() -> None:
    start, end = rtp_range()
    assert 0 < end - start < 10000
    ports = [str(p) for p in asterisk_service()["ports"]]  # type: ignore[union-attr]
    udp = [p for p in ports if re.search(rf":{start}-{end}:{start}-{end}/udp$", p)]
    assert len(udp) == 1, ports
    assert any(p.endswith(":5060/udp") for p in ports)


def test_compose_mounts_the_configuration() -> None:
    service = asterisk_service()
    mounts = {
        volume.split(":")[1]: volume.split(":")[0]
        for volume in service["volumes"]  # type: ignore[union-attr]
        if volume.startswith("./")
    }
    for name in ("extensions.conf", "pjsip.conf", "rtp.conf", "modules.conf"):
        assert (REPO / mounts[f"/etc/asterisk/{name}"]).resolve() == ASTERISK / name
    assert (REPO / mounts["/etc/asterisk/local"]).resolve() == ASTERISK / "local"
    sounds = dialplan().globals["ENCOMBOT_GREETING"].split("/")[0]
    assert (REPO / mounts[f"/var/lib/asterisk/sounds/{sounds}"]).resolve() == ASTERISK / "sounds"
    env = service["environment"]
    assert isinstance(env, dict)
    spool = dialplan().globals["ENCOMBOT_SPOOL"]
    assert env["ENCOMBOT_WEBHOOK_SPOOL"] == spool
    assert any(str(v).endswith(f":{spool}") for v in service["volumes"])  # type: ignore[union-attr]
    assert env["ENCOMBOT_INGRESS_URL"] == "http://ingress:8235"
    assert str(env["ENCOMBOT_WEBHOOK_SECRET"]).startswith("${ENCOMBOT_INGRESS_SECRET:?")


def test_dialplan_reaches_the_telephony_service() -> None:
    telephony = yaml.safe_load(COMPOSE.read_text("utf-8"))["services"]["telephony"]
    env = telephony["environment"]
    audiosocket = dialplan().globals["ENCOMBOT_AUDIOSOCKET"]
    route = dialplan().globals["ENCOMBOT_ROUTE"]
    assert audiosocket == f"telephony:{env['ENCOMBOT_TELEPHONY__AUDIOSOCKET_PORT']}"
    assert route == f"http://telephony:{env['ENCOMBOT_TELEPHONY__ROUTE_PORT']}"
    assert not telephony.get("ports"), "AudioSocket and the route server stay internal"


def test_image_ships_the_script_and_modules_are_required() -> None:
    dockerfile = DOCKERFILE.read_text("utf-8")
    target = dialplan().globals["ENCOMBOT_WEBHOOK"]
    assert re.search(rf"^COPY --chmod=0755 encombot-webhook {re.escape(target)}$", dockerfile, re.M)
    assert "curl" in dockerfile and "openssl" in dockerfile
    modules = MODULES.read_text("utf-8")
    for module in ("app_audiosocket.so", "func_curl.so", "res_pjsip.so"):
        assert f"require => {module}" in modules
    assert "noload => chan_sip.so" in modules


@pytest.mark.parametrize("name", ["local/README.md", "sounds/README.md"])
def test_mounted_folders_exist(name: str) -> None:
    assert (ASTERISK / name).is_file()


def test_greeting_text_exists() -> None:
    greeting = (REPO / "corpus" / "greeting.md").read_text("utf-8")
    assert "<!-- greeting:start -->" in greeting
    assert "greeting.md" in (ASTERISK / "sounds" / "README.md").read_text("utf-8")


def test_pjsip_duplicate_names_differ_by_type() -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for name, options, template in pjsip_sections():
        if template:
            continue
        kind = options["type"][-1]
        assert kind not in seen[name], f"[{name}] type={kind} twice"
        seen[name].add(kind)
