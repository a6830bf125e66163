import pytest

from octane_sync.errors import SecretsError
from octane_sync.secrets import SecretBox, format_keyring, generate_key, parse_keyring


def test_round_trip_and_token_hides_plaintext() -> None:
    box = SecretBox([generate_key()])
    token = box.encrypt("s3cret-value")
    assert "s3cret-value" not in token
    assert box.decrypt(token) == "s3cret-value"


def test_wrong_key_names_the_secret_not_its_value() -> None:
    token = SecretBox([generate_key()]).encrypt("s3cret-value")
    with pytest.raises(SecretsError, match="client secret of 'prod'") as caught:
        SecretBox([generate_key()]).decrypt(token, what="client secret of 'prod'")
    assert "s3cret-value" not in str(caught.value)


def test_rotation_keeps_every_token_readable_then_old_key_can_go() -> None:
    old, new = generate_key(), generate_key()
    token = SecretBox([old]).encrypt("abc")
    ring = SecretBox([new, old])
    assert ring.decrypt(token) == "abc"  # readable before rotation
    assert not ring.can_decrypt_with_newest(token)
    rotated = ring.rotate(token)
    assert ring.can_decrypt_with_newest(rotated)
    assert SecretBox([new]).decrypt(rotated) == "abc"  # old key retired
    with pytest.raises(SecretsError):
        SecretBox([old]).decrypt(rotated)


@pytest.mark.parametrize(
    "keys",
    [pytest.param([], id="empty"), pytest.param(["not-a-key"], id="malformed")],
)
def test_bad_keyring_is_a_clear_error(keys: list[str]) -> None:
    with pytest.raises(SecretsError) as caught:
        SecretBox(keys)
    assert "not-a-key" not in str(caught.value)


def test_keyring_text_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [generate_key(), generate_key()]
    assert parse_keyring(" " + format_keyring(keys) + ", ") == keys
    monkeypatch.setenv("OCTANE_SYNC_KEY", format_keyring(keys))
    assert SecretBox.from_env().keys == keys
