from __future__ import annotations

import hashlib
import re

import pytest

from bot.storage.keys import KeyBuilder

try:
    from redis.crc import key_slot
except ImportError:  # older redis-py kept it in the cluster module
    from redis.cluster import key_slot  # type: ignore[no-redef]

SECRET = b"test-secret-0123456789abcdef"
USER = "U4af4980629000000000000000000000a"
OTHER_USER = "U4af4980629000000000000000000000b"
HASH_TAG = re.compile(r"\{([^{}]+)\}")


@pytest.fixture
def keys() -> KeyBuilder:
    return KeyBuilder(secret=SECRET)


def all_keys(keys: KeyBuilder, user_id: str) -> list[str]:
    return [keys.session(user_id), keys.lock(user_id), keys.user(user_id, "dedupe:evt-123")]


def test_key_layout(keys: KeyBuilder) -> None:
    pseudonym = keys.pseudonym(USER)
    assert re.fullmatch(r"[0-9a-f]{32}", pseudonym)
    assert keys.session(USER) == f"nsb:{{{pseudonym}}}:session"
    assert keys.lock(USER) == f"nsb:{{{pseudonym}}}:lock"


def test_every_key_has_a_hash_tag_and_no_raw_user_id(keys: KeyBuilder) -> None:
    for key in all_keys(keys, USER):
        match = HASH_TAG.search(key)
        assert match is not None, key
        assert match.group(1) == keys.pseudonym(USER)
        assert USER not in key
        assert USER.lower() not in key.lower()


def test_keys_of_one_user_share_a_cluster_slot(keys: KeyBuilder) -> None:
    slots = {key_slot(key.encode()) for key in all_keys(keys, USER)}
    assert len(slots) == 1


def test_different_users_get_different_pseudonyms(keys: KeyBuilder) -> None:
    assert keys.pseudonym(USER) != keys.pseudonym(OTHER_USER)
    assert keys.session(USER) != keys.session(OTHER_USER)


def test_pseudonym_is_stable_across_builders_with_the_same_secret() -> None:
    assert KeyBuilder(secret=SECRET).pseudonym(USER) == KeyBuilder(secret=SECRET).pseudonym(USER)


def test_different_secret_gives_a_different_pseudonym() -> None:
    other = KeyBuilder(secret=b"another-secret-0123456789abcdef")
    assert other.pseudonym(USER) != KeyBuilder(secret=SECRET).pseudonym(USER)


def test_pseudonym_is_a_keyed_hash_not_a_plain_one(keys: KeyBuilder) -> None:
    assert keys.pseudonym(USER) != hashlib.sha256(USER.encode()).hexdigest()[:32]


def test_prefix_is_configurable(keys: KeyBuilder) -> None:
    staging = KeyBuilder(secret=SECRET, prefix="nsb-staging")
    assert staging.session(USER).startswith("nsb-staging:{")
    assert HASH_TAG.search(staging.session(USER)).group(1) == keys.pseudonym(USER)


@pytest.mark.parametrize("secret", [b"", b"short", "a-str-not-bytes-0123456789"])
def test_weak_or_wrongly_typed_secret_is_rejected_with_a_fix(secret: object) -> None:
    with pytest.raises(ValueError, match="secrets.token_hex"):
        KeyBuilder(secret=secret)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["", "a{b", "a}b", "a:b", "a b"])
def test_prefix_that_could_break_the_layout_is_rejected(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        KeyBuilder(secret=SECRET, prefix=prefix)


@pytest.mark.parametrize("part", ["", "a{b}", "x}", "with space"])
def test_part_that_could_break_the_hash_tag_is_rejected(keys: KeyBuilder, part: str) -> None:
    with pytest.raises(ValueError, match="part"):
        keys.user(USER, part)


@pytest.mark.parametrize("user_id", ["", None])
def test_empty_user_id_is_rejected(keys: KeyBuilder, user_id: object) -> None:
    with pytest.raises(ValueError):
        keys.pseudonym(user_id)  # type: ignore[arg-type]


def test_repr_does_not_leak_the_secret(keys: KeyBuilder) -> None:
    assert SECRET.decode() not in repr(keys)


def test_partition_tags_put_partition_n_in_the_n_th_band_of_the_slot_space():
    from redis.crc import key_slot

    for count in (4, 16, 64):
        keys = KeyBuilder(secret=b"k" * 32)
        keys.use_partitions(count)
        for n in range(count):
            slot = key_slot(keys.partition_events(n).encode())
            assert 16384 * n // count <= slot < 16384 * (n + 1) // count, (count, n, slot)
            # Every key of a partition shares the slot (one script touches them together).
            assert key_slot(keys.partition_seen(n, "01E").encode()) == slot
            assert key_slot(keys.partition_lease(n).encode()) == slot
    plain = KeyBuilder(secret=b"k" * 32)
    plain.use_partitions(16, spread=False)
    assert plain.partition_events(3) == "nsb:{p:3}:events"
