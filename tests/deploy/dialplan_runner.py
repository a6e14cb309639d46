"""Runs deploy/asterisk/extensions.conf, the way Asterisk would, for the decisions it makes.

Asterisk is not packaged in this Debian, so the dialplan cannot be loaded here. This runs its
text: the parse of tests/deploy/test_asterisk_config.py (contexts, extensions, priorities,
labels, globals), then one channel at a time from an entry point, with the applications and
functions the dialplan uses and Asterisk's rules for them:

- `${VAR}`, `${FUNC(args)}` (innermost first) and `$[expression]` (`=`, `!=`, `<`, `>`, `&`,
  `|`, quoted strings) substitution; `Set(__VAR=…)` inherited by a Local channel;
- Goto, GotoIf, GotoIfTime (times, weekdays, days of the month, months, time zone), Gosub /
  Return, Hangup, and the `h` extension run on hang-up in the channel's current context;
- Dial(Local/exten@context…): a second channel runs there; option `g` goes on in the caller's
  channel when it hangs up, else the caller's ends; Dial(PJSIP/…): the test's `agents` say
  ANSWER or NOANSWER (or the caller hangs up while they ring);
- AudioSocket(uuid, host:port): a real TCP connection (a refused one hangs the channel up, as
  app_audiosocket does); the test's `bot_call` plays the Asterisk side until the bot hangs up
  or the socket closes, then the application returns;
- CURL(url): a real HTTP GET with the dialplan's CURLOPT timeouts; any failure gives "" (as
  func_curl returns nothing when it cannot connect); a 404's body is returned as is;
- Record / Playback: the test's caller leaves `message_bytes` (a file written in the spool) or
  hangs up during the greeting; System(): recorded, not run (the webhooks are checked as the
  commands the script would get).

What this cannot prove (deploy/README.md): that Asterisk accepts each line, and its channel
timing; what it proves: where each call goes for each behaviour of the telephony process.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.deploy.test_asterisk_config import Step, dialplan

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class HangupSignal(Exception):
    """The channel hangs up (an application returned -1, or Hangup())."""


BotCall = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Caller:
    """The outside world of one call: the caller, the agents, the clock."""

    now: datetime
    number: str = "+33612345678"
    call_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    agents: str = "ANSWER"  # DIALSTATUS of the agents' Dial, or "CALLER_HANGUP" while ringing
    message_bytes: int | None = 48_044  # what Record() gets; None: hangs up in the greeting
    bot_call: BotCall | None = None  # the caller's side of an AudioSocket call
    caller_hangs_up_in_bot_call: bool = False
    overrides: dict[str, str] = field(default_factory=dict)  # globals, e.g. the addresses


@dataclass
class Channel:
    vars: dict[str, str]
    inherit: set[str] = field(default_factory=set)
    answered: bool = False
    context: str = ""
    exten: str = ""
    index: int = 0
    stack: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class Trace:
    """What happened, for the assertions."""

    apps: list[tuple[str, str]] = field(default_factory=list)  # (app, expanded args)
    dialled: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)  # System() commands of the webhook
    recorded: list[str] = field(default_factory=list)
    audiosocket: list[str] = field(default_factory=list)  # "connected" | "refused"

    def webhook_kinds(self) -> list[str]:
        return [cmd.split()[1] for cmd in self.webhooks]


class Runner:
    def __init__(self, caller: Caller, spool: Path) -> None:
        self.plan = dialplan()
        self.caller = caller
        self.spool = spool
        self.trace = Trace()
        self.globals = {**self.plan.globals, **caller.overrides, "ENCOMBOT_SPOOL": str(spool)}

    # ------------------------------------------------------------------ entry

    async def call(self, context: str = "encombot-inbound", exten: str = "0491000000") -> Trace:
        channel = Channel(vars={})
        channel.vars["UNIQUEID"] = "1733300000.42"
        channel.vars["CALLERID(num)"] = self.caller.number
        await self._run(channel, context, exten)
        return self.trace

    async def _run(self, ch: Channel, context: str, exten: str) -> None:
        self._goto_position(ch, context, exten, "1")
        with contextlib.suppress(HangupSignal):
            await self._loop(ch)
        await self._hangup_extension(ch)

    async def _hangup_extension(self, ch: Channel) -> None:
        if "h" in self.plan.contexts.get(ch.context, {}):
            ch.exten, ch.index, ch.stack = "h", 0, []
            with contextlib.suppress(HangupSignal):
                await self._loop(ch)

    async def _loop(self, ch: Channel) -> None:
        while True:
            steps = self.plan.contexts[ch.context][ch.exten]
            if ch.index >= len(steps):
                raise HangupSignal()  # no more priorities: Asterisk hangs up
            step = steps[ch.index]
            ch.index += 1
            await self._exec(ch, step)

    # ------------------------------------------------------------------ positions

    def _match(self, context: str, exten: str) -> str:
        extens = self.plan.contexts[context]
        if exten in extens:
            return exten
        for pattern in extens:
            if pattern.startswith("_") and _pattern(pattern).fullmatch(exten):
                return pattern
        raise AssertionError(f"no extension {exten} in [{context}]")

    def _goto_position(self, ch: Channel, context: str, exten: str, priority: str) -> None:
        ch.context = context
        ch.exten = self._match(context, exten)
        steps = self.plan.contexts[context][ch.exten]
        if priority.isdigit():
            ch.index = next(i for i, s in enumerate(steps) if s.priority == int(priority))
        else:
            ch.index = next(i for i, s in enumerate(steps) if s.label == priority)

    def _goto(self, ch: Channel, target: str) -> None:
        parts = [p.strip() for p in target.split(",")]
        if len(parts) == 3:
            self._goto_position(ch, parts[0], parts[1], parts[2])
        elif len(parts) == 2:
            self._goto_position(ch, ch.context, parts[0], parts[1])
        else:
            self._goto_position(ch, ch.context, ch.exten, parts[0])

    # ------------------------------------------------------------------ substitution

    def _var(self, ch: Channel, name: str) -> str:
        if name == "EPOCH":
            return str(int(self.caller.now.timestamp()))
        return ch.vars.get(name, self.globals.get(name, ""))

    async def expand(self, ch: Channel, text: str) -> str:
        while True:
            start = _innermost(text)
            if start is None:
                return text
            kind, begin, end = start
            inner = text[begin + 2 : end]
            if kind == "$":
                value = await self._substitute(ch, inner)
            else:
                value = _expression(inner)
            text = text[:begin] + value + text[end + 1 :]

    async def _substitute(self, ch: Channel, inner: str) -> str:
        match = re.fullmatch(r"([A-Z_]+)\((.*)\)", inner, re.S)
        if match is None:
            return self._var(ch, inner)
        name, args = match.group(1), match.group(2)
        if name == "CALLERID":
            return ch.vars.get(f"CALLERID({args})", "")
        if name == "CURL":
            return await self._curl(ch, args)
        if name == "SHELL":
            assert "random/uuid" in args, args
            return self.caller.call_uuid
        if name == "FILTER":
            allowed, _, value = args.partition(",")
            return "".join(c for c in value if _in_class(c, allowed))
        if name == "STRFTIME":
            epoch, zone, fmt = args.split(",", 2)
            return datetime.fromtimestamp(int(epoch), ZoneInfo(zone or "UTC")).strftime(fmt)
        if name == "STAT":
            flag, _, path = args.partition(",")
            target = Path(path)
            if flag == "e":
                return "1" if target.exists() else "0"
            return str(target.stat().st_size) if target.exists() else "0"
        if name == "IF":
            condition, _, branches = args.partition("?")
            yes, _, no = branches.partition(":")
            return yes if _true(condition) else no
        raise AssertionError(f"function {name}() not modelled")

    async def _curl(self, ch: Channel, url: str) -> str:
        connect = float(ch.vars.get("CURLOPT(conntimeout)", "10"))
        total = float(ch.vars.get("CURLOPT(httptimeout)", "10"))

        def fetch() -> str:
            try:
                with urllib.request.urlopen(url, timeout=min(connect, total)) as answer:
                    return str(answer.read().decode())
            except urllib.error.HTTPError as err:  # func_curl returns the body of any status
                return str(err.read().decode())
            except (OSError, ValueError):
                return ""

        return await asyncio.to_thread(fetch)

    # ------------------------------------------------------------------ applications

    async def _exec(self, ch: Channel, step: Step) -> None:
        app = step.app
        if app == "Set":
            name, _, raw = step.args.partition("=")
            value = await self.expand(ch, raw)
            if name.startswith("__"):
                ch.inherit.add(name[2:])
            ch.vars[name.lstrip("_")] = value
            self.trace.apps.append((app, f"{name}={value}"))
            return
        if app in ("GotoIf", "GotoIfTime"):
            condition, _, branches = step.args.partition("?")
            yes, _, no = branches.partition(":")
            if app == "GotoIf":
                taken = _true(await self.expand(ch, condition))
            else:
                taken = self._time_matches(await self.expand(ch, condition))
            target = yes if taken else no
            if target:
                self._goto(ch, await self.expand(ch, target))
            return
        args = await self.expand(ch, step.args)
        self.trace.apps.append((app, args))
        if app in ("NoOp", "Wait"):
            return
        if app == "Answer":
            ch.answered = True
        elif app == "Goto":
            self._goto(ch, args)
        elif app == "Gosub":
            ch.stack.append((ch.context, ch.exten, ch.index))
            self._goto(ch, args)
        elif app == "Return":
            ch.context, ch.exten, ch.index = ch.stack.pop()
        elif app == "Hangup":
            raise HangupSignal()
        elif app == "System":
            if "encombot-webhook" in args:
                self.trace.webhooks.append(args)
            ch.vars["SYSTEMSTATUS"] = "SUCCESS"
        elif app == "Playback":
            if self.caller.message_bytes is None:
                raise HangupSignal()  # hung up during the greeting
        elif app == "Record":
            assert self.caller.message_bytes is not None
            path = Path(args.split(",")[0])
            path.write_bytes(b"\0" * self.caller.message_bytes)
            self.trace.recorded.append(str(path))
            raise HangupSignal()  # the message ends with the caller's hang-up (option k)
        elif app == "Dial":
            await self._dial(ch, args)
        elif app == "AudioSocket":
            await self._audiosocket(args)
        else:
            raise AssertionError(f"application {app}() not modelled")

    async def _dial(self, ch: Channel, args: str) -> None:
        target, _, rest = args.partition(",")
        options = rest.split(",")[1] if "," in rest else ""
        if target.startswith("Local/"):
            exten, _, where = target.removeprefix("Local/").partition("@")
            leg = Channel(vars={name: ch.vars[name] for name in ch.inherit if name in ch.vars})
            await self._run(leg, where.split("/")[0], exten)
            ch.vars["DIALSTATUS"] = "ANSWER" if leg.answered else "CHANUNAVAIL"
            if self.caller.caller_hangs_up_in_bot_call:
                raise HangupSignal()
            if "g" not in options and leg.answered:
                raise HangupSignal()  # the bridge ended: so does the caller's channel
            return
        self.trace.dialled.append(target)
        if self.caller.agents == "CALLER_HANGUP":
            ch.vars["DIALSTATUS"] = "CANCEL"
            raise HangupSignal()
        ch.vars["DIALSTATUS"] = self.caller.agents
        if self.caller.agents == "ANSWER":
            ch.answered = True

    async def _audiosocket(self, args: str) -> None:
        call_uuid, _, address = args.partition(",")
        host, _, port = address.rpartition(":")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 5)
        except (OSError, TimeoutError):
            self.trace.audiosocket.append("refused")
            raise HangupSignal() from None  # app_audiosocket: -1, the channel hangs up
        self.trace.audiosocket.append("connected")
        writer.write(b"\x01\x00\x10" + uuid.UUID(call_uuid).bytes)
        await writer.drain()
        try:
            if self.caller.bot_call is not None:
                await self.caller.bot_call(reader, writer)
            else:
                await reader.read()  # until the bot hangs up or the socket closes
        except (ConnectionError, OSError):
            pass  # the process went away: AudioSocket() returns
        finally:
            writer.close()

    # ------------------------------------------------------------------ GotoIfTime

    def _time_matches(self, spec: str) -> bool:
        times, days, mdays, months, *zone = spec.split(",")
        now = self.caller.now.astimezone(ZoneInfo(zone[0]) if zone else UTC)
        if times != "*":
            start, _, end = times.partition("-")
            minute = now.hour * 60 + now.minute
            low, high = (_minutes(start), _minutes(end))
            if not low <= minute <= high:
                return False
        if days != "*" and not _in_range(DAYS.index(DAYS[now.weekday()]), days, DAYS):
            return False
        if mdays != "*" and not _in_range(now.day, mdays, None):
            return False
        return not (months != "*" and not _in_range(now.month - 1, months, MONTHS))


# --------------------------------------------------------------------------- helpers


def _innermost(text: str) -> tuple[str, int, int] | None:
    """The last-opened `${` or `$[` and its matching close: substituted first."""
    best: tuple[str, int, int] | None = None
    for match in re.finditer(r"\$([{\[])", text):
        begin, opener = match.start(), match.group(1)
        closer = "}" if opener == "{" else "]"
        depth, i = 0, begin + 1
        while i < len(text):
            if text[i] == opener:
                depth += 1
            elif text[i] == closer:
                depth -= 1
                if depth == 0:
                    break
            i += 1
        inner = text[begin + 2 : i]
        if "${" not in inner and "$[" not in inner:
            best = ("$" if opener == "{" else "[", begin, i)
            break
    return best


def _expression(text: str) -> str:
    """Asterisk's $[…] for what the dialplan uses: comparisons, & and |, quoted strings."""
    tokens = re.findall(r'"[^"]*"|!=|>=|<=|[=<>&|]|[^\s"=<>&|!]+', text)

    def value(token: str) -> str:
        return token[1:-1] if token.startswith('"') else token

    def compare(items: list[str]) -> str:
        if len(items) == 1:
            return value(items[0])
        left, op, right = value(items[0]), items[1], value(items[2])
        if op in ("=", "!="):
            equal = left == right
            return "1" if (equal if op == "=" else not equal) else "0"
        a, b = (float(left or 0), float(right or 0))
        result = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return "1" if result else "0"

    ors: list[list[list[str]]] = [[[]]]
    for token in tokens:
        if token == "|":
            ors.append([[]])
        elif token == "&":
            ors[-1].append([])
        else:
            ors[-1][-1].append(token)
    results = [all(_true(compare(part)) for part in ands) for ands in ors]
    if len(ors) == 1 and len(ors[0]) == 1:
        return compare(ors[0][0])
    return "1" if any(results) else "0"


def _true(value: str) -> bool:
    value = value.strip()
    return bool(value) and value != "0"


def _in_class(char: str, allowed: str) -> bool:
    i = 0
    while i < len(allowed):
        if i + 2 < len(allowed) and allowed[i + 1] == "-":
            if allowed[i] <= char <= allowed[i + 2]:
                return True
            i += 3
        else:
            if char == allowed[i]:
                return True
            i += 1
    return False


def _pattern(pattern: str) -> re.Pattern[str]:
    out = []
    body = pattern[1:]
    i = 0
    while i < len(body):
        c = body[i]
        if c == "X":
            out.append("[0-9]")
        elif c == "Z":
            out.append("[1-9]")
        elif c == "N":
            out.append("[2-9]")
        elif c == "[":
            end = body.index("]", i)
            out.append("[" + re.escape(body[i + 1 : end]).replace("\\-", "-") + "]")
            i = end
        elif c == ".":
            out.append(".+")
        elif c == "!":
            out.append(".*")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes)


def _in_range(value: int, spec: str, names: list[str] | None) -> bool:
    def index(token: str) -> int:
        return names.index(token.lower()) if names else int(token)

    start, _, end = spec.partition("-")
    low = index(start)
    high = index(end) if end else low
    return low <= value <= high
