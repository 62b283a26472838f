"""Scripted conversations for the built-in sandbox provider.

A completed sandbox call needs a transcript that sounds like a phone call and carries answers to
the call's `returns` fields, so the extractors produce real results offline. The script is built
from the call's schema, context and instructions and is deterministic per call (seeded from its
public id): the same call always gets the same conversation.

The callee answers in varied ways: plainly, with hesitation, changing their mind (the last
answer counts), after asking the agent to repeat, or refusing to answer. Each script also knows
the values it meant (`Script.expected`), which is how the labelled extraction set in the tests is
built.

A call's context may force a scenario with `"sandbox_scenario": "<name>"` (see SCENARIOS);
"empty", "voicemail" and "hangup" produce conversations with nothing to extract.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from callops.extraction.clock import as_call_time, call_time
from callops.extraction.parsing import ENUM_SYNONYMS  # the callee may use these instead of an option
from callops.extraction.schema import SchemaError, normalize_key, simple_form, validate_returns
from callops.extraction.schema import field as schema_field

# Scenario name -> per-field answer style ("mixed" draws one style per field).
SCENARIOS = ("mixed", "cooperative", "hesitant", "change_of_mind", "clarify", "refusal", "empty", "voicemail",
             "hangup")
# Scenarios where the callee never answers anything.
EMPTY_SCENARIOS = ("empty", "voicemail", "hangup")
STYLES = ("direct", "hesitant", "change_of_mind", "clarify", "refusal")
_MIXED_WEIGHTS = (48, 18, 16, 10, 8)
_SCENARIO_STYLE = {"cooperative": "direct", "hesitant": "hesitant", "change_of_mind": "change_of_mind",
                   "clarify": "clarify", "refusal": "refusal"}

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


@dataclass
class Script:
    """One scripted conversation and the values the callee meant to give."""

    scenario: str
    turns: list[dict] = field(default_factory=list)
    expected: dict = field(default_factory=dict)   # field -> canonical value, None when never given
    styles: dict = field(default_factory=dict)     # field -> the answer style used


def empty_transcript() -> list[dict]:
    """What a call that reached nobody leaves behind."""
    return []


def transcript_for(call) -> list[dict]:
    """The transcript of a completed sandbox call."""
    return script_for(call).turns


def script_for(call) -> Script:
    context = call.context if isinstance(call.context, dict) else {}
    scenario = context.get("sandbox_scenario")
    if scenario not in SCENARIOS:
        scenario = "mixed"
    org = getattr(call, "organization", None)
    return build_script(call.returns or {}, seed=str(call.public_id), when=call_time(call), context=context,
                        instructions=call.instructions or "", scenario=scenario,
                        company=getattr(org, "name", "") or "")


def build_script(returns: dict, *, seed: str, when: datetime | None = None, context: dict | None = None,
                 instructions: str = "", scenario: str = "mixed", company: str = "",
                 styles: dict | None = None) -> Script:
    """Build a conversation for `returns`; `styles` may pin a style per field (for labelled sets)."""
    rng = random.Random(f"{seed}:{scenario}")
    when = as_call_time(when, when.tzinfo if when is not None and when.tzinfo else UTC)
    context = context or {}
    try:
        valid = validate_returns(returns)
    except SchemaError:
        valid = {}
    # Synonyms do not change what the scripted callee says; a description changes what the agent
    # asks (and, for text fields, what kind of answer comes back).
    schema = {name: simple_form(spec) for name, spec in valid.items()}
    descriptions = {name: schema_field(spec).description for name, spec in valid.items()}
    script = Script(scenario=scenario)
    callee = _context_value(context, ("name", "customer_name", "first_name", "contact_name")) or ""
    company = _context_value(context, ("company", "business", "business_name")) or company or "the clinic"
    turns = script.turns
    if scenario == "empty":
        script.expected = {name: None for name in schema}
        return script
    greeting = f"Hi{' ' + str(callee).split()[0] if callee else ''}, this is Sam calling from {company}."
    purpose = _purpose(instructions)
    if scenario == "voicemail":
        turns.append(_agent(f"{greeting} {purpose} Please call us back when you get a chance. Thanks!"))
        script.expected = {name: None for name in schema}
        return script
    turns.append(_agent(f"{greeting} {purpose}".strip()))
    if scenario == "hangup":
        turns.append(_user(rng.choice(["Not interested, sorry. Bye.", "I'm busy right now. Goodbye.",
                                       "Please take me off your list."])))
        script.expected = {name: None for name in schema}
        return script
    turns.append(_user(rng.choice(["Hi, yes, speaking.", "Hello?", "Oh, hi. What's this about?", "Hi there.",
                                   "Yes, this is them."])))
    first, refused = True, False
    for name, spec in schema.items():
        if styles and name in styles:
            style = styles[name]
        elif scenario in _SCENARIO_STYLE:
            style = _SCENARIO_STYLE[scenario]
        else:
            style = rng.choices(STYLES, weights=_MIXED_WEIGHTS)[0]
        script.styles[name] = style
        if first:
            lead = "Great. First, "
        elif refused:
            lead = rng.choice(["No problem. ", "That's okay. ", "Understood. "])
        else:
            lead = rng.choice(["Got it. ", "Thanks. ", "Perfect. ", "Okay. ", "Thank you. "])
        first, refused = False, style == "refusal"
        expected, field_turns = _field_turns(rng, name, spec, style, when, context, descriptions.get(name, ""))
        if field_turns:
            field_turns[0]["text"] = lead + _lower_first(field_turns[0]["text"]) if lead.endswith(", ") \
                else lead + field_turns[0]["text"]
        turns.extend(field_turns)
        script.expected[name] = expected
    turns.append(_agent("Thank you, that's everything I needed. Is there anything else I can help you with?"))
    turns.append(_user(rng.choice(["No, that's all. Thanks!", "Nope, I'm good. Bye.", "No thank you.",
                                   "That's it, thanks."])))
    turns.append(_agent("Have a great day. Goodbye!"))
    return script


# --- per-field dialogue ------------------------------------------------------------------------

def _field_turns(rng, name, spec, style, when, context, description=""):
    phrase = humanize(name)
    kind = spec if isinstance(spec, str) else ("enum" if isinstance(spec, list) else "list")
    question = _question(rng, phrase, kind, spec, description)
    value, say = _value(rng, name, phrase, kind, spec, when, context, description=description)
    turns = [_agent(question)]
    if style == "refusal":
        turns.append(_user(rng.choice(["I'd rather not say.", "I'm not comfortable sharing that.",
                                       "Can we skip that one?", "I don't know, to be honest.",
                                       "I'd prefer not to answer that."])))
        return None, turns
    if style == "hesitant":
        turns.append(_user(rng.choice(["Um, ", "Hmm, let me think... ", "Uh, well, ", "Oh, um... "])
                           + _lower_first(say)))
        return value, turns
    if style == "clarify":
        if rng.random() < 0.5:
            turns.append(_user(rng.choice(["Sorry, what was that?", "Sorry, the line cut out. Can you repeat that?"])))
            turns.append(_agent(rng.choice(["Of course. ", "Sure. "]) + question))
        else:
            turns.append(_user(rng.choice(["Hmm, hold on a second.", "Let me check, one moment."])))
            turns.append(_agent(rng.choice(["Take your time. Could you say that again when you're ready?",
                                            "No rush. Sorry, could you repeat that?"])))
        turns.append(_user(say))
        return value, turns
    if style == "change_of_mind":
        other, other_say = _value(rng, name, phrase, kind, spec, when, context, avoid=value,
                                  description=description)
        if other == value or kind == "list":
            turns.append(_user(say))
            return value, turns
        turns.append(_user(_change_mind(rng, kind, other_say, say)))
        if kind in ("datetime", "date") and rng.random() < 0.5:
            turns.append(_agent("Sorry, just to confirm, was that the second one?"))
            turns.append(_user("Yes, the second one."))
        return value, turns
    turns.append(_user(say))
    if kind == "datetime" and rng.random() < 0.5:
        turns.append(_agent(f"So that's {_format_dt(datetime.fromisoformat(value))}, correct?"))
        turns.append(_user(rng.choice(["Yes, that's right.", "Correct.", "Yep."])))
    return value, turns


def _change_mind(rng, kind, first_say, final_say):
    first_say = first_say.rstrip(".")
    if kind == "boolean":
        return f"{first_say}... actually, wait. {final_say}"
    return rng.choice([
        f"{first_say}. Actually, no. {final_say}",
        f"{first_say}... hmm, sorry, I mean {_lower_first(final_say)}",
        f"{first_say}. No wait, {_lower_first(final_say)}",
    ])


# Words that make a text field a moment ("reschedule_to", "best_time"): the callee names a day and time.
_WHEN_WORDS = {"reschedule", "rescheduled", "time", "when", "slot", "day", "date", "appointment", "callback",
               "availability", "available"}
# A field name that opens on one of these asks its own question ("is_available" -> "Are you available?").
_BOOL_LEADS = {"is": "Are you {r}?", "are": "Are you {r}?", "has": "Do you have {r}?", "have": "Do you have {r}?",
               "wants": "Do you want {r}?", "want": "Do you want {r}?", "needs": "Do you need {r}?",
               "will": "Will you {r}?", "can": "Can you {r}?", "would": "Would you {r}?", "does": "Do you {r}?"}
_PREPOSITIONS = ("to", "for", "at", "on", "by", "with")


def _you(description: str) -> str:
    """A description written about the callee, said to them: "the day the callee prefers" ->
    "the day you prefer"."""
    text = description.strip().rstrip(".")
    text = re.sub(r"\b(?:the )?(?:callee|customer|caller|person|contact|recipient)\b(?:'s)?\s+(\w+?)s\b",
                  lambda m: "you " + m.group(1), text, flags=re.I)
    text = re.sub(r"\b(?:the )?(?:callee|customer|caller|person|contact|recipient)'s\b", "your", text, flags=re.I)
    text = re.sub(r"\b(?:the )?(?:callee|customer|caller|person|contact|recipient)\b", "you", text, flags=re.I)
    text = re.sub(r"\b(?:they|he or she)\b", "you", re.sub(r"\btheir\b", "your", text))
    return text[:1].lower() + text[1:]


def _is_moment(phrase: str, description: str) -> bool:
    return bool(set(f"{phrase} {description}".lower().replace(",", " ").split()) & _WHEN_WORDS)


def _yes_no_question(rng, phrase, description):
    # One draw whichever wording wins, so the rest of the call stays the same for the same seed.
    plain = rng.choice(["Can I put you down as {p}?", "Should I note you as {p}?", "Shall I mark you as {p}?",
                        "Just to check: are we {p}?"]).format(p=phrase)
    if description:
        about = _you(description)
        if about.split()[0] in ("whether", "if"):
            return f"Could you tell me {about}?"
        return f"Is it right that {about}?"
    lead, _, rest = phrase.partition(" ")
    if lead in _BOOL_LEADS and rest:
        return _BOOL_LEADS[lead].format(r=rest)
    return plain


def _question(rng, phrase, kind, spec, description=""):
    if kind == "boolean":
        return _yes_no_question(rng, phrase, description)
    if kind == "string" and (description or phrase.split()[-1] in _PREPOSITIONS):
        rng.choice(range(3))  # the draw the plain wording would make, so the rest of the call is unchanged
        if description:
            return f"Could you tell me {_you(description)}?"
        # "reschedule_to": "What day and time should we reschedule to?"
        return f"What {'day and time' if _is_moment(phrase, '') else ''} should we {phrase}?".replace("  ", " ")
    templates = {
        "number": ["What {p} do you have in mind?", "Roughly what's the {p}?",
                   "Could you give me a figure for the {p}?"],
        "integer": ["And the {p}, how many?", "What's the {p}, roughly?", "How many for the {p}?"],
        "date": ["What date works for the {p}?", "Which day should we put down for the {p}?",
                 "When is the {p}?"],
        "datetime": ["When would suit you for the {p}?", "What day and time for the {p}?",
                     "When should we schedule the {p}?"],
        "email": ["What's the best {p} for you?", "Could I get your {p}?"] if "email" in phrase else
                 ["What email should we use for the {p}?"],
        "phone": ["What's a good {p}?", "Could I get the {p}?"] if ("phone" in phrase or "number" in phrase) else
                 ["What phone number should we use for the {p}?"],
        "string": ["Could you tell me the {p}?", "What's the {p}?", "And the {p}?"],
        "time": ["What time works for the {p}?", "At what time should we put the {p}?"],
        "currency": ["How much for the {p}?", "What amount should we note for the {p}?"],
        "duration": ["How long for the {p}?", "How much time do you need for the {p}?"],
        "list": ["Which {p} would you like? You can pick more than one."],
    }
    if kind == "enum":
        options = [humanize(o) for o in spec]
        listed = ", ".join(options[:-1]) + (" or " + options[-1] if len(options) > 1 else options[0])
        return rng.choice(["For the {p}, would you like {o}?", "Which {p} do you prefer: {o}?"]).format(
            p=phrase, o=listed)
    if kind == "list" and isinstance(spec["list"], list):
        options = ", ".join(humanize(o) for o in spec["list"])
        return f"Which {phrase} would you like? The options are {options}."
    return rng.choice(templates[kind]).format(p=phrase)


def _value(rng, name, phrase, kind, spec, when, context, avoid=None, description=""):
    """(canonical value, how the callee says it)."""
    given = _context_value(context, (name,))
    for _ in range(8):
        if kind == "boolean":
            value = rng.random() < 0.6
            say = rng.choice(_YES if value else _NO)
        elif kind == "number":
            value, say = rng.choice(_NUMBERS)
            say = rng.choice(say)
        elif kind == "integer":
            value = rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20])
            say = rng.choice([str(value), spell(value), f"{spell(value)} of us" if value > 1 else "just one",
                              f"{value}, I think", f"I'd say {spell(value)}"])
        elif kind == "date":
            day, spoken = _date_phrase(rng, when.date())
            value, say = day.isoformat(), rng.choice(["{d}.", "{d} works.", "How about {d}?", "Let's say {d}."]
                                                      ).format(d=spoken)
            say = say[0].upper() + say[1:]
        elif kind == "datetime":
            day, spoken_day = _date_phrase(rng, when.date())
            (hour, minute), spoken_time = rng.choice(_TIMES)
            spoken_time = rng.choice(spoken_time)
            value = datetime(day.year, day.month, day.day, hour, minute, tzinfo=when.tzinfo).isoformat()
            say = rng.choice(["{d} at {t}.", "{d} at {t} works for me.", "How about {t} {d}?",
                              "{d}, around {t}."]).format(d=spoken_day, t=spoken_time)
            say = say[0].upper() + say[1:]
        elif kind == "time":
            (hour, minute), spoken_time = rng.choice(_TIMES)
            value, say = f"{hour:02d}:{minute:02d}", rng.choice(["{t}.", "At {t}.", "{t} works."]).format(
                t=rng.choice(spoken_time))
            say = say[0].upper() + say[1:]
        elif kind == "currency":
            amount, say = rng.choice(_AMOUNTS)
            value = {"amount": float(amount), "currency": "USD"}
        elif kind == "duration":
            value, say = rng.choice(_DURATIONS)
        elif kind == "email":
            first, last = rng.choice(_PEOPLE)
            domain = rng.choice(["example.com", "example.org", "mail.example.net"])
            local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}", first])
            value = f"{local}@{domain}".lower()
            spoken = value.replace(".", " dot ").replace("@", " at ").replace("_", " underscore ")
            say = rng.choice([f"It's {value}.", f"Sure, it's {spoken}.", f"{spoken}.", f"You can use {value}."])
            say = say[0].upper() + say[1:]
        elif kind == "phone":
            digits = rng.choice(_PHONES)
            value = "+1" + digits
            a, b, c = digits[:3], digits[3:6], digits[6:]
            words = ", ".join(" ".join(_DIGIT_WORDS[int(d)] for d in part) for part in (a, b, c))
            say = rng.choice([f"({a}) {b}-{c}.", f"It's {a}-{b}-{c}.", f"{a} {b} {c}.", f"+1 {a} {b} {c}.",
                              f"{words}.", f"Sure, {a}.{b}.{c}."])
            say = say[0].upper() + say[1:]
        elif kind == "enum":
            value = rng.choice(spec)
            say = _enum_say(rng, value)
        elif kind == "list":
            inner = spec["list"]
            if isinstance(inner, list):
                picks = rng.sample(inner, k=min(len(inner), rng.choice([1, 2, 2, 3])))
                value = [p for p in inner if p in picks]
                spoken = [humanize(p) for p in value]
            elif inner == "string":
                value = rng.sample(_STRINGS["items"], k=rng.choice([2, 3]))
                spoken = value
            else:
                # Two different values of the item type, said one after the other.
                pairs = []
                for _ in range(6):
                    pair = _value(rng, name, phrase, inner, inner, when, {})
                    if all(pair[0] != p[0] for p in pairs):
                        pairs.append(pair)
                    if len(pairs) == 2:
                        break
                value = [p[0] for p in pairs]
                # Items in a row are said plainly: "forty thousand and three point five" would be
                # ambiguous to any listener.
                spoken = [str(p[0]) if inner in ("number", "integer") else ("yes" if p[0] else "no")
                          if inner == "boolean" else _strip_lead(p[1]) for p in pairs]
            joined = spoken[0] if len(spoken) == 1 else ", ".join(spoken[:-1]) + " and " + spoken[-1]
            say = rng.choice(["{j}.", "I'd like {j}.", "{j}, please."]).format(j=joined)
            say = say[0].upper() + say[1:]
        elif _is_moment(phrase, description):
            # A text field about a moment is answered with one, as said ("Thursday at 3pm").
            _, spoken_day = _date_phrase(rng, when.date())
            value = f"{spoken_day.removeprefix('on ')} at {rng.choice(rng.choice(_TIMES)[1])}".rstrip(".")
            say = rng.choice(["{v}.", "{v}. That works better for me.", "{v}. Thanks."]).format(v=value)
            say = say[0].upper() + say[1:]
        else:
            value, say = _string_answer(rng, name)
        if given is not None and avoid is None and kind in ("email", "string", "enum") and isinstance(given, str):
            value, say = _given(kind, spec, given) or (value, say)
        if value != avoid:
            return value, say
    return value, say


def _given(kind, spec, given):
    """The callee repeats what the context already says about them."""
    if kind == "email" and "@" in given:
        return given.lower(), f"It's {given}."
    if kind == "string":
        return given, f"It's {given}."
    if kind == "enum" and given in spec:
        return given, f"{humanize(given).capitalize()}, please."
    return None


def _enum_say(rng, option):
    spoken = humanize(option)
    forms = [f"{spoken}.", f"{spoken}, please.", f"I'd go with {spoken}.", f"Let's do {spoken}.",
             f"Probably {spoken}.", f"The {spoken} option."]
    if re.fullmatch(r"[a-z]+", spoken) and not spoken.endswith("s"):
        forms.append(f"{spoken}s work best for me.")
    for synonym in ENUM_SYNONYMS.get(spoken, ()):
        forms.append(f"{synonym}, please.")
    say = rng.choice(forms)
    return say[0].upper() + say[1:]


def _string_answer(rng, name):
    words = set(humanize(name).split())
    if words & {"name"}:
        first, last = rng.choice(_PEOPLE)
        value = f"{first.capitalize()} {last.capitalize()}"
        return value, rng.choice([f"It's {value}.", f"My name is {value}.", f"{value}.", f"This is {value}."])
    for key in ("address", "city", "company", "reason", "notes"):
        aliases = _STRING_ALIASES[key]
        if words & aliases:
            value = rng.choice(_STRINGS[key])
            break
    else:
        value = rng.choice(_STRINGS["other"])
    say = rng.choice(["{v}.", "It's {v}.", "That would be {v}.", "Sure, {v}."]).format(v=value)
    return value, say[0].upper() + say[1:]


# --- phrasing helpers --------------------------------------------------------------------------

def _date_phrase(rng, today: date) -> tuple[date, str]:
    pick = rng.randrange(6)
    if pick == 0:
        return today + timedelta(days=1), "tomorrow"
    if pick == 1:
        return today + timedelta(days=2), "the day after tomorrow"
    if pick in (2, 3):
        k = rng.randrange(7)
        delta = (k - today.weekday()) % 7 or 7
        return today + timedelta(days=delta), rng.choice([WEEKDAYS[k], f"on {WEEKDAYS[k]}", f"next {WEEKDAYS[k]}"])
    if pick == 4:
        n = rng.choice([3, 4, 5, 7, 10])
        return today + timedelta(days=n), ("a week from today" if n == 7 else f"in {spell(n)} days")
    day = today + timedelta(days=rng.randrange(3, 60))
    month, ordinal = MONTHS[day.month - 1], ordinal_suffix(day.day)
    return day, rng.choice([f"{month} {ordinal}", f"the {ordinal} of {month}", f"{month} {day.day}"])


def _format_dt(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{WEEKDAYS[moment.weekday()]}, {MONTHS[moment.month - 1]} {moment.day} at {hour}{minutes} " \
           f"{'PM' if moment.hour >= 12 else 'AM'}"


def humanize(name: str) -> str:
    """`partySize` / `party_size` -> "party size"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name))
    return " ".join(spaced.replace("_", " ").replace("-", " ").split()).lower()


def ordinal_suffix(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def spell(n: int) -> str:
    """English words for 0 <= n < 1,000,000."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + (" " + spell(rest) if rest else "")
    rest = n % 1000
    return spell(n // 1000) + " thousand" + (" " + spell(rest) if rest else "")


def _strip_lead(say: str) -> str:
    say = re.sub(r"^(?:it's|sure, it's|you can use|how about|let's say)\s+", "", say.rstrip(".!?"), flags=re.I)
    return re.sub(r"\s+(?:works|works for me)$", "", say)


def _agent(text):
    return {"role": "agent", "text": text}


def _user(text):
    return {"role": "user", "text": text}


def _lower_first(text):
    return text[:1].lower() + text[1:] if text[:2] != "I " and not text.startswith("I'") else text


def _purpose(instructions: str) -> str:
    first = re.split(r"(?<=[.!?])\s", (instructions or "").strip(), maxsplit=1)[0].strip()
    if not first:
        return "I have a couple of quick questions."
    first = first.rstrip(".!?")
    if not first or first.split()[0].lower() in _NOT_A_PURPOSE:
        return "I have a couple of quick questions."
    return f"I'm calling to {first[:1].lower() + first[1:]}."


def _context_value(context, keys):
    if not isinstance(context, dict):
        return None
    wanted = {normalize_key(k) for k in keys}
    for key, value in context.items():
        if normalize_key(key) in wanted and value not in (None, ""):
            return value
    return None


# Instructions that describe the agent rather than the task ("You are a friendly ...").
_NOT_A_PURPOSE = {"you", "your", "i", "we", "this", "the", "a", "an", "as", "be", "act", "always", "never"}
_YES = ["Yes.", "Yeah, that's right.", "Yep, that works.", "Sure, sounds good.", "Absolutely.", "Correct.",
        "Of course, yes.", "Yes please.", "That works for me.", "Mm-hm, yes.", "Definitely."]
_NO = ["No.", "No, not really.", "Nope.", "No, I can't make that.", "I don't think so.", "Unfortunately not.",
       "No thanks.", "That won't work for me."]
_NUMBERS = [
    (250, ["250.", "Two hundred fifty.", "About two hundred and fifty.", "Around $250."]),
    (1200, ["1,200.", "Twelve hundred.", "About 1200 dollars.", "One thousand two hundred."]),
    (75, ["75.", "Seventy-five.", "Maybe seventy five."]),
    (40000, ["40k.", "Forty thousand.", "About 40,000."]),
    (3.5, ["3.5.", "Three and a half.", "Three point five."]),
    (12.75, ["12.75.", "Twelve seventy-five, so 12.75."]),
    (500, ["500.", "Five hundred.", "Half a thousand, so 500."]),
    (90, ["Ninety.", "90, give or take."]),
]
# (hour, minute) -> ways to say it.
_AMOUNTS = [(250, "Two hundred fifty dollars."), (1200, "About $1,200."), (75, "Seventy-five dollars."),
            (40000, "40k dollars."), (12.5, "$12.50, please.")]
_DURATIONS = [(1800, "Half an hour."), (3600, "An hour."), (5400, "An hour and a half."),
              (172800, "Two days."), (604800, "A week.")]
_TIMES = [
    ((9, 0), ["9am", "nine am", "9 in the morning", "9:00 a.m."]),
    ((10, 30), ["10:30am", "half past ten in the morning", "ten thirty in the morning"]),
    ((12, 0), ["noon", "12pm", "midday"]),
    ((15, 0), ["3pm", "3 in the afternoon", "15:00", "three o'clock in the afternoon"]),
    ((16, 30), ["4:30 pm", "four thirty in the afternoon", "16:30"]),
    ((18, 0), ["6pm", "six in the evening", "6 p.m."]),
    ((14, 15), ["2:15pm", "quarter past two in the afternoon"]),
]
_PEOPLE = [("maria", "lopez"), ("john", "smith"), ("aisha", "khan"), ("wei", "chen"), ("olga", "petrova"),
           ("david", "okafor"), ("lucia", "rossi"), ("sam", "taylor"), ("priya", "patel"), ("tom", "becker")]
_PHONES = ["4155552671", "2125550134", "6175550199", "3125550142", "2025550173", "4158675309", "7185550110",
           "3105550186"]
_STRING_ALIASES = {
    "address": {"address", "street", "location"},
    "city": {"city", "town"},
    "company": {"company", "business", "employer", "organization"},
    "reason": {"reason", "issue", "problem", "concern", "why"},
    "notes": {"notes", "note", "comment", "comments", "feedback", "instructions", "message"},
}
_STRINGS = {
    "address": ["42 Elm Street", "1600 Market Street, Apartment 4B", "7 Harbor Road"],
    "city": ["Chicago", "San Francisco", "Austin", "Boston"],
    "company": ["Northwind Traders", "Blue Fern Bakery", "Acme Plumbing"],
    "reason": ["the heating stopped working", "I need to reschedule my cleaning", "a billing question"],
    "notes": ["please ring the side door bell", "call before arriving", "the dog is friendly"],
    "other": ["the blue one", "standard service", "the downtown office", "weekly"],
    "items": ["apples", "pears", "plums", "bread", "milk"],
}
