import pytest

from node.dev.accounts import TEST_MNEMONIC, DevAccount, dev_accounts, load_key

KEY0 = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_well_known_dev_accounts():
    accounts = dev_accounts()
    assert len(accounts) == 10
    assert all(isinstance(a, DevAccount) for a in accounts)
    assert accounts[0].checksum == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert accounts[0].address == bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
    assert accounts[0].private_key == bytes.fromhex(KEY0)
    assert accounts[1].checksum == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert len({a.address for a in accounts}) == 10
    assert all(len(a.address) == 20 and len(a.private_key) == 32 for a in accounts)


def test_dev_accounts_count_and_mnemonic():
    assert dev_accounts(count=3) == dev_accounts()[:3]
    assert dev_accounts(TEST_MNEMONIC, 2) == dev_accounts(count=2)
    other = dev_accounts("abandon " * 11 + "about", count=1)
    assert other[0].checksum == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


def test_dev_account_is_frozen():
    with pytest.raises(AttributeError):
        dev_accounts()[0].address = b"\x00" * 20


@pytest.mark.parametrize("text", [KEY0, "0x" + KEY0, "0X" + KEY0.upper(), f"  0x{KEY0}\n"])
def test_load_key_hex(text):
    assert load_key(text) == bytes.fromhex(KEY0)


def test_load_key_file(tmp_path):
    plain = tmp_path / "key"
    plain.write_text(KEY0 + "\n")
    prefixed = tmp_path / "key0x"
    prefixed.write_text("0x" + KEY0)
    assert load_key(str(plain)) == bytes.fromhex(KEY0)
    assert load_key(str(prefixed)) == bytes.fromhex(KEY0)


@pytest.mark.parametrize(
    "text, message",
    [
        ("0x" + "zz" * 32, "not valid hex"),
        ("0x" + KEY0[:-2], "must be 32 bytes"),
        (KEY0 + "00", "must be 32 bytes"),
        ("0x" + "00" * 32, "out of range"),
        ("", "empty private key"),
        ("/no/such/keyfile", "neither a hex private key nor an existing key file"),
    ],
)
def test_load_key_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        load_key(text)


def test_load_key_rejects_bad_file(tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("not a key")
    with pytest.raises(ValueError, match=f"key file {bad} is not valid hex"):
        load_key(str(bad))
    short = tmp_path / "short"
    short.write_text("0x1234")
    with pytest.raises(ValueError, match="must be 32 bytes"):
        load_key(str(short))
