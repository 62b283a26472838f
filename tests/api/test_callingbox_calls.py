"""The official CallingBox SDK (callingbox 0.1.0) pointed at callops by base URL only: create in the
SDK's README form, read a call, read its transcript; and the 400s its form can meet."""

import pytest
from callingbox import Callingbox, NotFoundError
from callingbox.tools import tool

from callops.accounts import services as accounts
from callops.calls import agents as agent_services
from callops.calls.models import Agent, Call, CallEvent
from callops.providers.models import ProviderAccount

pytestmark = pytest.mark.django_db(transaction=True)

COMPLETED = "+12025550100"
NO_DEFAULT = ("agent_id: is required (this organization has no default agent; set one in Settings → "
              "Providers & agents)")


@pytest.fixture
def default_agent(sandbox_agent):
    return agent_services.make_default(sandbox_agent)


@pytest.fixture
def sdk(personas, live_server, short_db_connections):
    _, secret = accounts.create_api_key(personas.org, "sdk")
    client = Callingbox(api_key=secret, base_url=live_server.url)
    yield client
    client.close()


def lookup_tool():
    return tool.http(name="lookup_order", description="Find an order by its number",
                     url="https://example.com/orders", policy="read", timeout_ms=3000,
                     parameters=tool.object(order_no=tool.string(description="the order number")))


def test_sdk_create_in_the_readme_form_uses_the_default_agent(sdk, default_agent):
    call = sdk.calls.create(COMPLETED, prompt="Confirm Ann's 3pm appointment.", context={"name": "Ann"},
                            returns={"confirmed": "boolean"}, language="en-US", voicemail_action="leave_message",
                            tools=[lookup_tool(), tool.builtin(name="end_call", description="Hang up")])
    row = Call.objects.get(public_id=call.id)
    assert row.agent == default_agent
    assert call.to_number == COMPLETED and call.status == "queued" and call.direction == "outbound"
    assert call.prompt == "Confirm Ann's 3pm appointment." == row.instructions
    assert call.context == {"name": "Ann"} and call.returns == {"confirmed": "boolean"}
    assert call.language == "en-US" == row.language  # the SDK reads it from metadata
    assert row.voicemail_action == "leave_message"
    assert call.tools == row.tools == [
        {"type": "http", "name": "lookup_order", "description": "Find an order by its number", "policy": "read",
         "url": "https://example.com/orders", "timeout_ms": 3000,
         "parameters": {"type": "object", "properties": {"order_no": {"type": "string",
                                                                      "description": "the order number"}},
                        "required": ["order_no"], "additionalProperties": False}},
        {"type": "builtin", "name": "end_call", "description": "Hang up", "policy": "read", "builtin": "end_call",
         "parameters": {"type": "object", "properties": {}, "required": [], "additionalProperties": False}},
    ]
    assert call.result is None and call.billed_duration_seconds is None
    assert call.billing_amount_milli_cents is None and call.reservation_status is None


def test_sdk_retrieve_and_transcript(sdk, default_agent, personas):
    created = sdk.calls.create(COMPLETED, prompt="Confirm the appointment.")
    Call.objects.filter(public_id=created.id).update(
        status="completed", duration_seconds=42, billed_duration_seconds=60, billing_amount_milli_cents=9000,
        reservation_status="settled",
        transcript=[{"role": "agent", "text": "Hi, is this Ann?"}, {"role": "user", "text": "Yes, speaking."},
                    {"role": "agent", "text": "See you at 3pm.", "started_at": "2026-12-07T02:00:05Z",
                     "ended_at": "2026-12-07T02:00:07Z", "duration_ms": 2000}])

    call = sdk.calls.retrieve(created.id)
    assert call.id == created.id and call.status == "completed" and call.prompt == "Confirm the appointment."
    assert call.duration_seconds == 42 and call.billed_duration_seconds == 60
    assert call.billing_amount_milli_cents == 9000 and call.reservation_status == "settled"
    assert call.language is None and call.tools == []

    segments = sdk.calls.retrieve_transcript(created.id)
    assert [(s.sequence_no, s.role, s.text, s.started_at, s.ended_at, s.duration_ms, s.source) for s in segments] == [
        (1, "agent", "Hi, is this Ann?", None, None, None, "provider"),
        (2, "user", "Yes, speaking.", None, None, None, "provider"),
        (3, "agent", "See you at 3pm.", "2026-12-07T02:00:05Z", "2026-12-07T02:00:07Z", 2000, "provider"),
    ]

    # Bolna's one-string shape reads the same way.
    Call.objects.filter(public_id=created.id).update(transcript="assistant: Hello\nuser: Hi there")
    segments = sdk.calls.retrieve_transcript(created.id)
    assert [(s.role, s.text, s.started_at) for s in segments] == [("agent", "Hello", None), ("user", "Hi there", None)]

    # Another organization's call is not found, not forbidden.
    other_agent = Agent.objects.create(
        organization=personas.other_org, name="Globex agent",
        provider_account=ProviderAccount.objects.create(organization=personas.other_org, kind="sandbox", name="S"))
    theirs = Call.objects.create(organization=personas.other_org, agent=other_agent, to_number=COMPLETED,
                                 provider="sandbox", provider_account=other_agent.provider_account)
    with pytest.raises(NotFoundError, match=f"call {theirs.public_id} not found"):
        sdk.calls.retrieve_transcript(str(theirs.public_id))


def _refused(api, body, error, fields):
    response = api.post("/v1/calls", body)
    assert response.status_code == 400, response.content
    assert response.json() == {"error": error, "fields": fields}
    assert not Call.objects.exists() and not CallEvent.objects.exists()


def test_no_agent_id_and_no_default_agent(api, sandbox_agent):
    _refused(api, {"to": COMPLETED, "prompt": "Hi"}, NO_DEFAULT,
             {"agent_id": NO_DEFAULT.removeprefix("agent_id: ")})


def test_prompt_and_instructions_that_differ(api, default_agent):
    message = "differs from instructions; they are two names for one field, send one"
    _refused(api, {"to": COMPLETED, "prompt": "Hi", "instructions": "Hello"}, f"prompt: {message}",
             {"prompt": message})


def test_prompt_equal_to_instructions_is_accepted(api, default_agent):
    response = api.post("/v1/calls", {"to": COMPLETED, "prompt": "Hi", "instructions": "Hi"})
    assert response.status_code == 201, response.content
    assert response.json()["prompt"] == response.json()["instructions"] == "Hi"


@pytest.mark.parametrize("language", ["english!", "e", "en_US", 7])
def test_bad_language(api, default_agent, language):
    message = f"{language!r} is not a BCP-47 language tag such as en or en-US"
    _refused(api, {"to": COMPLETED, "language": language}, f"language: {message}", {"language": message})


def test_bad_voicemail_action(api, default_agent):
    message = "must be one of hangup, leave_message, got 'voicemail'"
    _refused(api, {"to": COMPLETED, "voicemail_action": "voicemail"}, f"voicemail_action: {message}",
             {"voicemail_action": message})


@pytest.mark.parametrize("tools,message", [
    ({"type": "http"}, "must be a list of tool definitions"),
    ([{"type": "sql", "name": "x"}], "tool 0: type must be http or builtin, got 'sql'"),
    ([{"type": "http", "name": "x", "description": "", "policy": "read", "parameters": {"type": "object"}}],
     "tool 0: a http tool needs url"),
    ([{**lookup_tool().to_wire(), "policy": "write"}], "tool 0: policy must be one of read, confirm_first_write"),
    ([{**lookup_tool().to_wire(), "url": "ftp://example.com"}], "tool 0: url must be an http or https URL"),
    ([{**lookup_tool().to_wire(), "secret": 1}], "tool 0: 'secret' is not a field of a http tool"),
    ([lookup_tool().to_wire(), lookup_tool().to_wire()], "tool 1: the name 'lookup_order' is used twice"),
])
def test_bad_tool(api, default_agent, tools, message):
    _refused(api, {"to": COMPLETED, "tools": tools}, f"tools: {message}", {"tools": message})


def test_tools_on_a_provider_that_cannot_take_them(api, personas):
    account = ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    agent = Agent.objects.create(organization=personas.org, provider_account=account, name="Bolna agent",
                                 provider_agent_id="4c7d1c0e-0000-4000-8000-000000000001")
    message = "the agent's provider (Bolna) does not take tools per call; configure them on the Bolna agent"
    lang = "the agent's provider (Bolna) does not take language per call; configure it on the Bolna agent"
    _refused(api, {"agent_id": str(agent.public_id), "to": COMPLETED, "tools": [lookup_tool().to_wire()],
                   "language": "en"},
             f"language: {lang}; tools: {message}", {"language": lang, "tools": message})


def test_agent_based_callingbox_refuses_per_call_options(api, personas):
    account = ProviderAccount.objects.create(organization=personas.org, kind="callingbox", name="CB")
    agent = Agent.objects.create(organization=personas.org, provider_account=account, name="CB agent",
                                 provider_agent_id="ag_1", is_default=True)
    message = ("the agent's provider (CallingBox) does not take voicemail_action per call on an agent-based call; "
               "configure it on the CallingBox agent, or use an agent without a CallingBox agent id "
               "(prompt-based calls)")
    _refused(api, {"to": COMPLETED, "voicemail_action": "hangup"}, f"voicemail_action: {message}",
             {"voicemail_action": message})
    assert agent.is_default


def test_make_default_moves_the_flag(sandbox_agent, personas):
    other = Agent.objects.create(organization=personas.org, provider_account=sandbox_agent.provider_account,
                                 name="Second")
    agent_services.make_default(sandbox_agent)
    agent_services.make_default(other)
    assert list(Agent.objects.filter(is_default=True)) == [other]


def test_openapi_documents_the_new_fields_and_route(api):
    doc = api.get("/v1/openapi.json").json()
    assert "/v1/calls/{call_id}/transcript" in doc["paths"]
    schemas = doc["components"]["schemas"]
    call = schemas["CallDetailOut"]["properties"]
    for name in ("prompt", "language", "voicemail_action", "tools", "billed_duration_seconds",
                 "billing_amount_milli_cents", "reservation_status"):
        assert name in call, name
    assert call["billing_amount_milli_cents"]["anyOf"][0]["type"] == "integer"
    segment = schemas["TranscriptSegmentOut"]["properties"]
    assert set(segment) == {"sequence_no", "role", "text", "started_at", "ended_at", "duration_ms", "source"}
