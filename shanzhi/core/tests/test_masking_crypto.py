import pytest
from django.core.exceptions import ValidationError

from shanzhi.core import crypto
from shanzhi.core.masking import mask
from shanzhi.core.validators import id_check_digit, validate_id_number, validate_mmsi, validate_vessel_number


def test_mask_id_and_phone():
    assert mask("id_number", "330902199001011234") == "330***********1234"
    assert mask("phone", "13812345678") == "138****5678"
    assert mask("name", "张三") == "张*"
    assert mask("name", "欧阳娜娜") == "欧阳**"
    assert mask("phone", "") == ""


def test_id_number_checksum():
    base = "33090219900101123"
    good = base + id_check_digit(base)
    assert validate_id_number(good) == good
    wrong = base + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ValidationError):
        validate_id_number(wrong)
    with pytest.raises(ValidationError):
        validate_id_number("330902199002301234")  # 30 February
    with pytest.raises(ValidationError):
        validate_id_number("12345")


def test_vessel_and_mmsi():
    assert validate_vessel_number("浙岱渔03215") == "浙岱渔03215"
    with pytest.raises(ValidationError):
        validate_vessel_number("浙岱03215")
    assert validate_mmsi("412345678") == "412345678"
    with pytest.raises(ValidationError):
        validate_mmsi("012345678")


def test_encrypt_roundtrip_is_randomised():
    a, b = crypto.encrypt("13812345678"), crypto.encrypt("13812345678")
    assert a != b and "13812345678" not in a
    assert crypto.decrypt(a) == crypto.decrypt(b) == "13812345678"


def test_tampered_ciphertext_is_refused():
    stored = crypto.encrypt("secret")
    head, payload = stored.rsplit(":", 1)
    flipped = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(f"{head}:{flipped}")


def test_blind_index_is_keyed_and_normalised(settings):
    one = crypto.blind_index("phone", "138 1234 5678")
    assert one == crypto.blind_index("phone", "13812345678")
    settings.SHANZHI_PII_KEY = crypto._decode_key.__globals__["base64"].urlsafe_b64encode(b"k" * 32).decode()
    assert crypto.blind_index("phone", "13812345678") != one


def test_key_rotation_keeps_old_values_readable(settings):
    import base64

    old_key = base64.urlsafe_b64encode(b"o" * 32).decode()
    settings.SHANZHI_PII_KEY = old_key
    stored = crypto.encrypt("浙江省舟山市定海区")
    settings.SHANZHI_PII_KEY = base64.urlsafe_b64encode(b"n" * 32).decode()
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(stored)
    settings.SHANZHI_PII_OLD_KEYS = f"2025:{old_key}"
    assert crypto.decrypt(stored) == "浙江省舟山市定海区"
