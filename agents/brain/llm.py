"""LLM reasoning on top of the RCA engine, through the ``openai`` client (OpenAI or any
OpenAI-compatible server: vLLM, Ollama, llama.cpp).

The model reads the bounded, redacted ``EvidenceBundle`` and must answer in a JSON schema whose
enums come from the bundle (the root cause is one of the candidate services with evidence).
Its answer is then validated against the evidence; an absent, failing, timed-out or invalid
answer leaves the engine's decision in place, and the ``Diagnosis`` says which one decided and
why. Neither the prompt nor the logs hold secrets: the bundle is redacted, the key stays in
the client.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.brain.evidence import EvidenceBundle, redact
from sre_space.config import Settings
from sre_space.models.diagnosis import Candidate, DecidedBy, Diagnosis, FaultClass

log = logging.getLogger("sre_space.brain")

PROMPT = (Path(__file__).parent / "prompts" / "diagnose.md").read_text()
SUMMARY_CHARS = 300
MIND_CHARS = 200

# The first remedies that make sense for each class; the model picks one, the Fixer's policy
# still decides what actually runs.
ACTIONS_FOR: dict[FaultClass, tuple[str, ...]] = {
    FaultClass.CRASH_OOM: ("restart", "raise_memory_limit", "escalate"),
    FaultClass.DEPENDENCY_UNAVAILABLE: ("restart", "escalate"),
    FaultClass.LATENCY: ("restart", "rollback", "scale_up", "escalate"),
    FaultClass.ERRORS: ("restart", "rollback", "escalate"),
    FaultClass.SATURATION: ("scale_up", "raise_memory_limit", "restart", "escalate"),
    FaultClass.BAD_CHANGE: ("rollback", "escalate"),
    FaultClass.BUSINESS_LOGIC: ("rollback", "escalate"),
}
ACTIONS = tuple(dict.fromkeys(a for acts in ACTIONS_FOR.values() for a in acts))


class LLMAnswer(BaseModel):
    """The model's structured answer (the JSON schema it must follow)."""

    model_config = ConfigDict(frozen=True)

    summary: str = Field(max_length=SUMMARY_CHARS)
    root_cause_service: str
    fault_class: FaultClass
    action: str
    confidence: int = Field(ge=0, le=100)
    what_would_change_my_mind: str = Field(max_length=MIND_CHARS)


class LLMRejected(Exception):
    """The model's answer could not be used; the message says why (no secrets, one line)."""


def answer_schema(bundle: EvidenceBundle) -> dict[str, Any]:
    """The JSON schema for ``bundle``: enums of its candidate services, the classes, the actions."""
    return {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "maxLength": SUMMARY_CHARS},
            "root_cause_service": {"type": "string", "enum": bundle.services},
            "fault_class": {"type": "string", "enum": [c.value for c in FaultClass]},
            "action": {"type": "string", "enum": list(ACTIONS)},
            "confidence": {"type": "integer", "minimum": 0, "maximum": 100},
            "what_would_change_my_mind": {"type": "string", "maxLength": MIND_CHARS},
        },
        "required": ["summary", "root_cause_service", "fault_class", "action", "confidence",
                     "what_would_change_my_mind"],
        "additionalProperties": False,
    }


def validate(answer: LLMAnswer, bundle: EvidenceBundle) -> None:
    """Raise ``LLMRejected`` unless the answer fits the evidence."""
    if answer.root_cause_service not in bundle.services:
        raise LLMRejected(f"root cause {answer.root_cause_service!r} is not a candidate with evidence")
    if answer.action not in ACTIONS_FOR[answer.fault_class]:
        raise LLMRejected(f"action {answer.action!r} is not allowed for {answer.fault_class.value}")


def parse_answer(content: str | None, bundle: EvidenceBundle) -> LLMAnswer:
    """The model's message content as a validated ``LLMAnswer``."""
    try:
        answer = LLMAnswer.model_validate_json(content or "")
    except ValidationError as exc:
        raise LLMRejected(f"malformed answer: {exc.errors()[0]['msg']}") from None
    validate(answer, bundle)
    return answer


class Reasoner:
    """Asks an OpenAI-compatible chat model about a bundle (``timeout_s`` bounds the whole call)."""

    def __init__(self, client: Any, model: str, timeout_s: float, max_tokens: int) -> None:
        self.client, self.model, self.timeout_s, self.max_tokens = client, model, timeout_s, max_tokens
        self.last_seconds: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Reasoner | None:
        """A reasoner when ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` is set; None (engine alone) otherwise."""
        if settings.openai_api_key is None and not settings.openai_base_url:
            return None
        from openai import OpenAI  # the SDK loads only when an LLM is configured

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
        client = OpenAI(api_key=key, base_url=settings.openai_base_url, max_retries=0,
                        timeout=settings.llm.timeout_s)
        return cls(client, settings.llm.model, settings.llm.timeout_s, settings.llm.max_tokens)

    def ask(self, bundle: EvidenceBundle) -> LLMAnswer:
        """The model's validated answer; ``LLMRejected`` on any failure (timeout, HTTP, shape)."""
        import openai

        started = time.monotonic()
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": PROMPT}, {"role": "user", "content": bundle.render()}],
                response_format={"type": "json_schema", "json_schema": {
                    "name": "diagnosis", "strict": True, "schema": answer_schema(bundle)}},
                max_tokens=self.max_tokens, temperature=0, timeout=self.timeout_s,
            )
        except openai.APITimeoutError:
            raise LLMRejected(f"no answer within {self.timeout_s:g}s") from None
        except openai.APIStatusError as exc:
            raise LLMRejected(f"the server refused the request ({exc.status_code})") from None
        except openai.APIError as exc:
            raise LLMRejected(f"the server failed: {type(exc).__name__}") from None
        finally:
            self.last_seconds = time.monotonic() - started
        choice = response.choices[0] if response.choices else None
        return parse_answer(choice.message.content if choice else None, bundle)


def decide(engine: Diagnosis, bundle: EvidenceBundle, reasoner: Reasoner | None) -> Diagnosis:
    """The LLM's diagnosis when it gives a valid answer, else the engine's (with the reason noted)."""
    if reasoner is None:
        return engine
    if not bundle.services:
        return _fallback(engine, "no candidate with evidence to reason about")
    try:
        answer = reasoner.ask(bundle)
    except LLMRejected as exc:
        return _fallback(engine, str(exc))
    log.info("LLM answered in %.1fs: %s / %s", reasoner.last_seconds or 0.0, answer.root_cause_service,
             answer.fault_class.value)
    return adopt(engine, answer)


def adopt(engine: Diagnosis, answer: LLMAnswer) -> Diagnosis:
    """The engine's diagnosis re-ranked and re-classified by a validated answer."""
    chosen = next(c for c in engine.candidates if c.service == answer.root_cause_service)
    top = Candidate(service=chosen.service, operation=chosen.operation, score=chosen.score,
                    fault_class=answer.fault_class, evidence=chosen.evidence)
    rest = [c for c in engine.candidates if c.service != chosen.service]
    return engine.model_copy(update={
        "candidates": [top, *rest], "fault_class": answer.fault_class, "confidence": answer.confidence / 100,
        "inconclusive": False, "decided_by": DecidedBy.LLM, "summary": redact(answer.summary),
        "action": answer.action, "what_would_change_my_mind": redact(answer.what_would_change_my_mind),
    })


def _fallback(engine: Diagnosis, reason: str) -> Diagnosis:
    log.warning("LLM answer not used (%s): the engine decides", reason)
    return engine.model_copy(update={"notes": [*engine.notes, f"LLM not used: {reason}; the engine decided"]})

