from datetime import UTC, datetime

import pytest

from server.agreements.document import freeze
from server.agreements.keys import Keyring
from server.agreements.signing import GENESIS, MEDIATOR, PARTY, SEAL, Evidence, SigningError, SigningState
from tests.support.agreement_sample import sample_content


def ev(name: str = "", image: str | None = "ab" * 32, method: str = "id_last4", consent: bool = True) -> Evidence:
    now = datetime(2026, 1, 15, 2, 0, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Evidence(method, "passed", consent, now, now, "192.0.2.1", "UA", name, image)


@pytest.fixture
def setup(tmp_path):  # type: ignore[no-untyped-def]
    c = sample_content()
    text, h = freeze(c, {})
    kid, key = Keyring(tmp_path, b"s").signing_key("340321001")
    return c, h, SigningState(c, 1, h), kid, key


def test_full_order_and_chain(setup) -> None:  # type: ignore[no-untyped-def]
    c, h, st, kid, key = setup
    r1 = st.sign(PARTY, "p2", 1, h, ev("李四"), "340321001", kid, key)
    r2 = st.sign(PARTY, "p1", 1, h, ev("张三"), "340321001", kid, key)
    assert not st.complete
    r3 = st.sign(MEDIATOR, MEDIATOR, 1, h, ev("王调解", method="password"), "340321001", kid, key)
    r4 = st.sign(SEAL, SEAL, 1, h, ev(image=None, method="password"), "340321001", kid, key)
    assert st.complete
    assert r1.payload["prev"] == GENESIS and r2.payload["prev"] == r1.hash and r4.payload["prev"] == r3.hash
    assert [r.payload["seq"] for r in st.records] == [1, 2, 3, 4]
    assert r1.payload["signer"]["id_masked"] == "340***********0018"
    assert r1.payload["document_hash"] == h and r1.payload["image_sha256"] == "ab" * 32


@pytest.mark.parametrize("attempt, code", [
    (lambda st, h: st.check_may_sign(PARTY, "p1", 2, h), "stale_version"),
    (lambda st, h: st.check_may_sign(PARTY, "p1", 1, "0" * 64), "stale_version"),
    (lambda st, h: st.check_may_sign(PARTY, "p9", 1, h), "not_a_signer"),
    (lambda st, h: st.check_may_sign(MEDIATOR, MEDIATOR, 1, h), "out_of_order"),
    (lambda st, h: st.check_may_sign(SEAL, SEAL, 1, h), "out_of_order"),
])
def test_refusals(setup, attempt, code) -> None:  # type: ignore[no-untyped-def]
    c, h, st, kid, key = setup
    with pytest.raises(SigningError) as e:
        attempt(st, h)
    assert e.value.code == code


def test_twice_and_evidence_checks(setup) -> None:  # type: ignore[no-untyped-def]
    c, h, st, kid, key = setup
    st.sign(PARTY, "p1", 1, h, ev("张三"), "340321001", kid, key)
    with pytest.raises(SigningError) as e:
        st.sign(PARTY, "p1", 1, h, ev("张三"), "340321001", kid, key)
    assert e.value.code == "already_signed"
    for bad, code in [(ev("张三丰"), "typed_name_mismatch"), (ev("李四", consent=False), "no_consent"),
                      (ev("李四", image=None), "signature_empty"), (ev("李四", method="none"), "identity_not_checked")]:
        with pytest.raises(SigningError) as e:
            st.sign(PARTY, "p2", 1, h, bad, "340321001", kid, key)
        assert e.value.code == code
    assert len(st.records) == 1
