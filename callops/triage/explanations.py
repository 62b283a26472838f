"""Plain-language explanations and suggested fixes for every failure cause triage knows.

Keys are what the rows carry: a call's `error_code` (from adapters, the stale sweep, PolyAI expiry),
its `hangup_cause`, its status; an extraction's error kind (classified from `result_error`); a
webhook attempt's error kind. Unknown causes still get a sensible generic text, so a new error code
never renders as a blank card.

Each cause also says which bulk actions can help (`actions`), what must be true first for them to
help (`caution`, said in the confirm), and where the fix is made (`fix_at`, a place the console
links to). The actions follow the advice: a cause whose fix says a retry cannot help offers none,
and `callops.triage.services` refuses an action the cause does not offer.
"""

from dataclasses import dataclass

RETRY, RERUN, REDELIVER = "retry", "rerun", "redeliver"
# What a group of each kind offers when its cause does not say otherwise.
DEFAULT_ACTIONS = {"call": (RETRY,), "extraction": (RERUN,), "webhook": (REDELIVER,)}
# Places a fix is made, as `fix_at` names them (the console turns them into links).
FIX_PLACES = ("providers", "suppressions", "endpoints", "webhooks")


@dataclass(frozen=True)
class Cause:
    title: str
    explanation: str
    fix: str
    tone: str = "danger"  # badge tone: danger (broken), warning (expected in some share), muted
    # The bulk actions that can help; None means the kind's usual one (DEFAULT_ACTIONS), () none.
    actions: tuple[str, ...] | None = None
    # What must be true before the action helps ("only after topping up"), said in its confirm.
    caution: str = ""
    fix_at: str = ""  # one of FIX_PLACES, or blank

    def allowed(self, kind: str) -> tuple[str, ...]:
        return DEFAULT_ACTIONS.get(kind, ()) if self.actions is None else self.actions

    @property
    def can_retry(self) -> bool:
        return RETRY in self.allowed("call")


# The error codes of calls a calling rule (callops.rules) canceled before any provider was asked.
# Triage shows them as one cause, "Blocked by calling rules", and offers no retry: a retry would be
# refused by the same rule.
CALLING_RULE_CODES = ("suppressed", "frequency_cap", "outside_hours")
_BLOCKED = "Blocked by calling rules"

CALL_CODES = {
    "suppressed": Cause(
        _BLOCKED,
        "The number is on your suppression (do-not-call) list, so callops canceled the call before any provider "
        "was asked. The call's timeline names the entry and its reason.",
        "Nothing to fix if the person asked not to be called. If the entry is wrong, remove it under "
        "Settings → Suppression list and place a new call.", "muted", actions=(), fix_at="suppressions"),
    "frequency_cap": Cause(
        _BLOCKED,
        "The number had already been called as often as your frequency cap allows, so the call was not placed.",
        "Wait until the cap allows another call, or change the cap in the calling rules.", "muted", actions=()),
    "outside_hours": Cause(
        _BLOCKED,
        "It was outside your calling hours in the recipient's local time, so the call was not placed.",
        "Place the call inside the calling hours, or change the organization's calling hours.", "muted",
        actions=()),

    "circuit_open": Cause(
        "Provider circuit open",
        "Most recent requests to the provider account failed (5xx, refused connections, timeouts or 429s), so "
        "callops opened its circuit and sent it no calls for a cool-down; this call had no agent left to fall "
        "back to. The provider page shows the account's error rate and when the circuit half-opens again.",
        "Check the provider's status page and the account under Settings → Providers & agents. Give the agent a "
        "fallback agent on another provider so calls move there while the circuit is open, then retry these "
        "calls; the circuit closes by itself after one successful probe.",
        caution="Only once the circuit has closed or the agent has a fallback on another provider: until then "
                "every retry is refused the same way.",
        fix_at="providers"),
    "account_disabled": Cause(
        "Provider account disabled",
        "The agent's provider account is switched off in callops, so the call was not sent to the provider and "
        "no fallback agent took it.",
        "Activate the account under Settings → Providers & agents, or give the agent a fallback agent on another "
        "account, then retry these calls."),
    "invalid_number": Cause(
        "Invalid number",
        "The destination number does not exist or is not in service, so the carrier refused to connect the call.",
        "Check the number in your source data (country code, missing digits) and place a new call to the "
        "corrected number. Retrying would dial the same dead number again, so it is not offered.", "warning",
        actions=()),
    "balance_low": Cause(
        "Provider out of balance",
        "The provider account ran out of credit, so the provider refused to place the call before dialing.",
        "Top up the wallet in the provider's console, then retry these calls.",
        caution="Only after the provider account has credit again: until then every retry fails the same way.",
        fix_at="providers"),
    "insufficient_funds": Cause(
        "Provider out of balance",
        "The provider answered 402: the account has no credit or its plan does not allow more calls.",
        "Top up or upgrade the provider account, then retry these calls.",
        caution="Only after the provider account has credit again: until then every retry fails the same way.",
        fix_at="providers"),
    "rate_limited": Cause(
        "Provider rate limit",
        "The provider answered 429: too many requests in a short time for this account.",
        "Lower the batch pace (calls per minute) or the provider account's rate limit in callops, or ask the "
        "provider for a higher limit. Retrying later usually succeeds."),
    "status_expired": Cause(
        "PolyAI status expired",
        "PolyAI keeps a call's status for about two hours. This call was still live in callops when PolyAI stopped "
        "answering for it (404), so its outcome is unknown and it was marked failed.",
        "Check the call in PolyAI's conversation history, and place a new call only if it did not happen (a "
        "retry is not offered: the person may already have been called). Make sure the worker and sweeper run "
        "continuously so calls are polled while PolyAI still has their status.", actions=()),
    "stale": Cause(
        "Stale call",
        "The call stayed live longer than its provider's maximum call length and one last status check found no "
        "end, so callops failed it rather than leave it open forever.",
        "Check the call in the provider's console, and place a new call only if it did not happen (a retry is not "
        "offered: the call was answered, so the person has been called). If the provider's callbacks are not "
        "reaching callops, verify the callback URL shown on the provider account.", actions=(), fix_at="providers"),
    "placement_interrupted": Cause(
        "Placement interrupted",
        "The process placing this call stopped (a crash or a restart) before it recorded the provider's answer. "
        "Either the provider confirmed it has no such call and the call was made from the API or the dashboard, "
        "whose caller saw an error; or the provider's call list could not show whether it received the call (the "
        "error message says so), and dialing again could have rung the person twice. Either way callops did not "
        "dial it again on its own.",
        "If the error message says the provider may have the call, look for it in the provider's console before "
        "retrying. Otherwise retry the call if it is still wanted. Frequent cases point at processes being killed "
        "mid-request (memory limits, deploys without a graceful stop).", "warning"),
    "auth_failed": Cause(
        "Bad provider credentials",
        "The provider rejected the API key (401): it is wrong, expired or revoked.",
        "Open Settings → Providers, paste a valid key into the account and use “Test connection”, then retry.",
        caution="Only after a valid key is saved on the provider account: until then every retry is refused too.",
        fix_at="providers"),
    "forbidden": Cause(
        "Provider refused access",
        "The key is valid but not allowed to do this (403), for example outbound calling is not enabled on the "
        "account or the agent belongs to another workspace.",
        "Ask the provider to enable outbound calling for the key, or check the agent id and workspace, then retry.",
        caution="Only after the provider allows the key to place these calls: until then every retry is refused too.",
        fix_at="providers"),
    "provider_unavailable": Cause(
        "Provider unavailable",
        "The provider answered with a server error (5xx) while placing or tracking the call.",
        "Usually temporary: check the provider's status page and retry once it recovers."),
    "connect_error": Cause(
        "Provider unreachable",
        "callops could not open a connection to the provider's API (DNS, refused connection or network).",
        "Check the account's base URL and the network path from the worker to the provider; retry when reachable."),
    "timeout": Cause(
        "Provider timed out",
        "The provider did not answer in time. The request may or may not have been processed.",
        "Check the provider console before retrying so nobody is called twice.",
        caution="The provider may have placed some of these calls: check its console first, or someone may be "
                "called twice."),
    "network_error": Cause(
        "Network error",
        "The connection to the provider broke in the middle of a request.",
        "Usually temporary; retry. If it persists check proxies and firewalls between the worker and the provider."),
    "invalid_request": Cause(
        "Provider rejected the request",
        "The provider said the request was invalid (400/422): a bad number format, a missing agent setting or an "
        "unsupported option.",
        "Read the provider's message on a sample call, fix the agent or the input, then retry.",
        caution="Only after the agent or the input is fixed: the same request is refused again.", fix_at="providers"),
    "invalid_agent": Cause(
        "Agent misconfigured",
        "The agent's provider-side id is not in the form this provider needs.",
        "Edit the agent under Settings → Providers & agents and correct its provider agent id, then retry.",
        caution="Only after the agent's provider agent id is corrected: until then every retry fails the same way.",
        fix_at="providers"),
    "not_found": Cause(
        "Unknown at the provider",
        "The provider does not know the agent or the call (404).",
        "Check the agent's provider id and that the provider account is the right one, then retry.",
        caution="Only after the agent or the provider account is corrected: until then every retry fails the same "
                "way.", fix_at="providers"),
    "telephony_error": Cause(
        "Telephony error",
        "The carrier dropped or could not complete the call.",
        "Often transient; retry. A high share from one provider points at a carrier problem on their side."),
    "call_failed": Cause(
        "Call failed at the provider",
        "The provider reported a failure (PolyAI also uses this for calls nobody answered).",
        "Read the provider's reason on a sample call; retry if it looks transient.", "warning"),
    "bad_response": Cause(
        "Unexpected provider response",
        "The provider answered in a shape callops could not read (no call id, not JSON).",
        "Usually a provider incident; retry later and report it to the provider if it continues."),
    "provider_rejected": Cause(
        "Provider rejected the call",
        "The provider refused the call with an error callops has no specific explanation for.",
        "Read the provider's message on a sample call."),
}

HANGUP_CAUSES = {
    "no_answer": Cause("Nobody answered", "The phone rang until the ring timeout and nobody picked up.",
                       "Try again at another time of day, or schedule retries on the batch.", "warning"),
    "user_busy": Cause("Line busy", "The destination line was busy.",
                       "Retry in a few minutes.", "warning"),
    "machine_detected": Cause("Voicemail", "An answering machine picked up, so the agent hung up.",
                              "Retry at another time, or let the agent leave a message.", "warning"),
    "unallocated_number": Cause("Number not in service", "The carrier says the number is not allocated.",
                                "Correct the number and place a new call; retrying would dial the same number, so it "
                                "is not offered.", "warning", actions=()),
    "network_out_of_order": Cause("Carrier network problem", "The carrier's network dropped the call.",
                                  "Usually temporary; retry.", "danger"),
}

STATUSES = {
    "failed": Cause("Call failed", "The call failed and the provider gave no error code.",
                    "Read the provider's reason on a sample call; retry if it looks transient."),
    "no_answer": Cause("Nobody answered", "The call was not answered.",
                       "Try again at another time of day, or schedule retries on the batch.", "warning"),
    "busy": Cause("Line busy", "The destination line was busy.", "Retry in a few minutes.", "warning"),
}

EXTRACTION_KINDS = {
    "empty_transcript": Cause(
        "Empty transcript",
        "The call completed but the provider sent no transcript, so there was nothing to extract from.",
        "Check that the provider account returns transcripts (some need it enabled). Re-run extraction once the "
        "transcript arrives.", "warning",
        caution="Only once the transcripts have arrived: without one the re-run fails the same way.",
        fix_at="providers"),
    "no_conversation": Cause(
        "Callee never spoke",
        "The call connected but only the agent spoke, so the requested fields could not be filled.",
        "Nothing to fix in callops: with nothing said by the callee no extractor can fill the fields, so a re-run "
        "is not offered. To reach the person, place a new call to them.", "warning", actions=()),
    "llm_failed": Cause(
        "LLM extractor failed",
        "The language model behind the extractor was unreachable, timed out or answered something that was not "
        "JSON.",
        "Check LLM_BASE_URL, LLM_API_KEY and the model's status, then re-run extraction.",
        caution="Only after the language model answers again: until then the re-run fails the same way."),
    "provider_failed": Cause(
        "Provider extracted nothing",
        "The agent is set to use the provider's own extraction, and the provider sent no extracted data.",
        "Enable extraction on the provider's agent, or switch the agent to the rules or LLM extractor, then re-run "
        "extraction.",
        caution="Only after the agent's extractor is switched (or the provider sends extracted data): until then "
                "the re-run finds nothing again.", fix_at="providers"),
    "rules_failed": Cause(
        "Rules extractor failed", "The built-in rules extractor could not process the transcript.",
        "Re-run extraction; if it keeps failing, switch the agent to the LLM extractor."),
    "nothing_parsed": Cause(
        "No field could be extracted",
        "The extractor ran but none of the requested fields could be read from the conversation.",
        "Check the returns schema (field names and types) against what the agent actually asks, for the calls to "
        "come. Re-running on the same conversation with the same schema gives the same answer, so it is not "
        "offered.", actions=(), fix_at="providers"),
    "other": Cause("Extraction failed", "Extraction failed for a reason without a specific explanation.",
                   "Read the error on a sample call and re-run extraction."),
}

WEBHOOK_KINDS = {
    "webhook_blocked": Cause(
        "Webhook host blocked",
        "The endpoint URL resolves to a private or loopback address, which callops refuses to call so that "
        "customer URLs cannot reach internal services.",
        "Use a public HTTPS URL. Self-hosters can allow a network with the OUTBOUND_ALLOW_PRIVATE setting.",
        caution="Only after the endpoint's URL is public (or allowed): until then the same address is refused.",
        fix_at="endpoints"),
    "webhook_timeout": Cause(
        "Endpoint timing out",
        "The endpoint did not send a complete response within the delivery timeout.",
        "Answer 2xx right away and do the work afterwards (queue it). Retries continue automatically."),
    "webhook_gone": Cause(
        "410 Gone",
        "The endpoint answered 410 Gone, which means “stop sending”, so callops disabled it.",
        "If the URL is still wanted, fix the receiver, re-enable the endpoint and bulk-recover the missed events.",
        caution="Only after the receiver is fixed and the endpoint re-enabled: it asked not to be sent anything.",
        fix_at="webhooks"),
    "webhook_unreachable": Cause(
        "Endpoint unreachable",
        "callops could not connect to the endpoint (DNS failure, refused connection or TLS error).",
        "Check the URL, DNS and certificate, and that the receiver is running. Retries continue automatically."),
    "webhook_server_error": Cause(
        "Endpoint server error",
        "The endpoint answered with a 5xx error.",
        "Check the receiver's logs for the failing requests; redeliver once it is fixed."),
    "webhook_rate_limited": Cause(
        "Endpoint rate limiting",
        "The endpoint answered 429 Too Many Requests.",
        "Raise the receiver's limit or lower the endpoint's max in flight; retries back off automatically."),
    "webhook_auth": Cause(
        "Endpoint refused the request",
        "The endpoint answered 401 or 403: it did not accept the request's credentials or signature.",
        "Check the signing secret and any custom auth header configured on the endpoint."),
    "webhook_client_error": Cause(
        "Endpoint rejected the payload",
        "The endpoint answered with a 4xx error.",
        "Read the response body on a sample attempt; fix the receiver, then redeliver."),
    "webhook_redirect": Cause(
        "Endpoint redirects",
        "The endpoint answered with a redirect. Webhooks are never sent on to another address.",
        "Update the endpoint URL to the final address (often http → https or a trailing slash)."),
    "webhook_endpoint_disabled": Cause(
        "Events held for a disabled endpoint",
        "These events were not sent because their endpoint is disabled (by a user, after 410 Gone, or after failing "
        "for days). They are kept and can be sent later.",
        "Fix the receiver, re-enable the endpoint under Webhooks, then redeliver this group or bulk-recover.",
        "warning", caution="Only after the endpoint is re-enabled under Webhooks.", fix_at="webhooks"),
    "webhook_config": Cause(
        "Signing secret unreadable",
        "The endpoint's signing secret could not be decrypted with the configured ENCRYPTION_KEY.",
        "Restore the previous key in ENCRYPTION_KEY (keys can be listed, newest first), or rotate the secret, then "
        "redeliver.",
        caution="Only after the secret can be read again: until then nothing can be signed.", fix_at="endpoints"),
}

GENERIC = Cause("Unrecognised failure", "This failure has no specific explanation yet.",
                "Open a sample to read the raw error and the provider's own words.")


def for_call(status: str, error_code: str, hangup_cause: str) -> Cause:
    if error_code:
        known = CALL_CODES.get(error_code)
        if known:
            return known
        return Cause(f"Error {error_code}", f"The call failed with the error code “{error_code}”.",
                     GENERIC.fix)
    if hangup_cause and hangup_cause in HANGUP_CAUSES:
        return HANGUP_CAUSES[hangup_cause]
    base = STATUSES.get(status, GENERIC)
    if hangup_cause:
        return Cause(f"{base.title}: {hangup_cause.replace('_', ' ')}", base.explanation, base.fix, base.tone,
                     base.actions, base.caution, base.fix_at)
    return base


def for_extraction(kind: str) -> Cause:
    return EXTRACTION_KINDS.get(kind, EXTRACTION_KINDS["other"])


def for_webhook(kind: str) -> Cause:
    return WEBHOOK_KINDS.get(kind, Cause("Webhook delivery failing", "Deliveries failed with an error of kind "
                                                                    f"“{kind.removeprefix('webhook_')}”.",
                                         GENERIC.fix))
