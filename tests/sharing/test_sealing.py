"""Sealing raw batches at rest, and the settings that hold the key."""

from __future__ import annotations

import base64
import uuid

import pytest
from pydantic import ValidationError

from services.sharing.sealing import BatchSealer, SealBroken
from services.sharing.settings import DEV_BATCH_KEY, SharingSettings
from tests.sharing.factories import id_number

KEY = bytes(range(32))
RAW = f'{{"records": [{{"id_number": "{id_number()}", "since": "2018-04-01"}}]}}'.encode()


def test_a_sealed_batch_opens_to_the_raw_body_and_does_not_contain_it() -> None:
    sealer = BatchSealer(KEY)
    batch_id = uuid.uuid4()
    sealed = sealer.seal(batch_id, RAW)
    assert id_number().encode() not in sealed
    assert RAW not in sealed
    assert sealer.open(batch_id, sealed) == RAW


def test_sealing_twice_gives_different_bytes() -> None:
    sealer = BatchSealer(KEY)
    batch_id = uuid.uuid4()
    assert sealer.seal(batch_id, RAW) != sealer.seal(batch_id, RAW)


def test_a_sealed_body_does_not_open_for_another_batch() -> None:
    sealer = BatchSealer(KEY)
    sealed = sealer.seal(uuid.uuid4(), RAW)
    with pytest.raises(SealBroken):
        sealer.open(uuid.uuid4(), sealed)


def test_a_tampered_body_or_another_key_does_not_open() -> None:
    batch_id = uuid.uuid4()
    sealed = BatchSealer(KEY).seal(batch_id, RAW)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealBroken):
        BatchSealer(KEY).open(batch_id, tampered)
    with pytest.raises(SealBroken):
        BatchSealer(bytes(32)).open(batch_id, sealed)
    with pytest.raises(SealBroken, match="format"):
        BatchSealer(KEY).open(batch_id, b"\x02" + sealed[1:])


def test_the_key_id_names_the_key_without_revealing_it() -> None:
    assert BatchSealer(KEY).key_id == BatchSealer(KEY).key_id
    assert BatchSealer(KEY).key_id != BatchSealer(bytes(32)).key_id
    assert KEY.hex()[:16] not in BatchSealer(KEY).key_id


def test_settings_take_the_batch_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = base64.urlsafe_b64encode(KEY).decode()
    monkeypatch.setenv("SHARING_BATCH_KEY", key)
    monkeypatch.setenv("SHARING_MAX_BATCH_RECORDS", "50")
    settings = SharingSettings()
    assert settings.batch_key_bytes == KEY
    assert settings.max_batch_records == 50


def test_the_development_key_is_the_default_in_development_mode_only(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = SharingSettings()
    assert settings.batch_key.get_secret_value() == DEV_BATCH_KEY
    monkeypatch.delenv("DEVELOPMENT_MODE")
    for name, value in {"SHARING_INTERNAL_SECRET": "s" * 32, "SHARING_SUBJECT_KEY": "k" * 32}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="SHARING_BATCH_KEY still hold"):
        SharingSettings()
    assert settings.database_url == "sqlite+aiosqlite:///var/sharing.db"


@pytest.mark.parametrize(
    ("value", "message"),
    [("not base64!", "url-safe base64"), (base64.urlsafe_b64encode(b"short").decode(), r"32 bytes \(AES-256\), not 5")],
)
def test_a_batch_key_that_is_not_aes256_is_refused(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        SharingSettings(batch_key=value)  # type: ignore[arg-type]
    assert value not in str(caught.value)
