"""Fixed vectors of end-to-end encryption (docs/encryption.md), computed by an independent
implementation (Python's `cryptography`) from the inputs in proto/tests/e2e_vectors.json;
proto/tests/e2e_vectors.rs checks that axt-proto's Rust code reproduces the same bytes.

`python tests/sdk/test_e2e_vectors.py --write` regenerates the file (a new RSA test key, the
same fixed inputs otherwise); pytest only reads it."""

import base64
import hashlib
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VECTORS = Path(__file__).resolve().parents[2] / "proto" / "tests" / "e2e_vectors.json"
SUITE = "AXT_X25519_SIGNED_CHACHA20_POLY1305"
LABEL = b"axtlab e2e v1"


def fixed(name: str, n: int = 32) -> bytes:
    """A fixed input: the first n bytes of SHA-256 of its name."""
    return hashlib.sha256(name.encode()).digest()[:n]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def p256_public(scalar: bytes) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
    return key, key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def ecdh_p256(v: dict) -> dict:
    client, client_pub = p256_public(bytes.fromhex(v["client_scalar"]))
    agent, agent_pub = p256_public(bytes.fromhex(v["agent_scalar"]))
    shared = client.exchange(ec.ECDH(), agent.public_key())
    assert shared == agent.exchange(ec.ECDH(), client.public_key())
    return {"client_pub": client_pub.hex(), "agent_pub": agent_pub.hex(), "shared": shared.hex()}


def aes_cbc(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(padded) + enc.finalize()


def x25519(v: dict) -> dict:
    client = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["client_private"]))
    agent = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["agent_private"]))
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    shared = client.exchange(agent.public_key())
    assert shared == agent.exchange(client.public_key())
    return {
        "client_pub": client.public_key().public_bytes(*raw).hex(),
        "agent_pub": agent.public_key().public_bytes(*raw).hex(),
        "shared": shared.hex(),
    }


def handshake(h: dict, x: dict, private_pem: str) -> dict:
    """Transcript, its signature and the two keys of one handshake (§3)."""
    kms = bytes.fromhex(h["kms_plaintext"]) if h["kms_plaintext"] is not None else b""
    cr, ar = bytes.fromhex(h["client_random"]), bytes.fromhex(h["agent_random"])
    transcript = b"".join(part + b"\0" for part in (LABEL, h["channel_id"].encode(), h["instance_id"].encode(), SUITE.encode()))
    transcript += cr + ar + bytes.fromhex(x["client_pub"]) + bytes.fromhex(x["agent_pub"]) + hashlib.sha256(kms).digest()
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    signature = key.sign(transcript, rsa_padding.PKCS1v15(), hashes.SHA256())

    def expand(direction: str) -> bytes:
        info = LABEL + b" " + direction.encode() + b"\0" + h["channel_id"].encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=cr + ar, info=info).derive(bytes.fromhex(x["shared"]) + kms)

    return {
        "transcript": transcript.hex(),
        "signature": signature.hex(),
        "client_to_agent": expand("client to agent").hex(),
        "agent_to_client": expand("agent to client").hex(),
    }


def inner_bytes(inner: dict) -> bytes:
    if "data" in inner:
        return b"\0" + bytes.fromhex(inner["data"])
    if "resize" in inner:
        cols, rows = inner["resize"]
        return b"\1" + cols.to_bytes(2, "big") + rows.to_bytes(2, "big")
    return b"\2" + inner["close"].encode()


def record(keys: dict, channel_id: str, r: dict) -> dict:
    c2a = r["direction"] == "client_to_agent"
    key = bytes.fromhex(keys["client_to_agent" if c2a else "agent_to_client"])
    nonce = (b"c2a\0" if c2a else b"a2c\0") + r["counter"].to_bytes(8, "big")
    aad = channel_id.encode() + b"\0" + (b"I" if c2a else b"O")
    plain = inner_bytes(r["inner"])
    sealed = ChaCha20Poly1305(key).encrypt(nonce, plain, aad)
    return {"plaintext": plain.hex(), "record": (r["counter"].to_bytes(8, "big") + sealed).hex()}


def go_json(fields: list) -> bytes:
    """An object as Go's json.Marshal writes it: in order, no spaces, HTML-safe escapes."""
    text = json.dumps(dict(fields), separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def payload(m: dict) -> bytes:
    """The key-exchange payload of one message description (absent = omitted field)."""
    hexb64 = lambda k: b64(bytes.fromhex(m[k]))  # noqa: E731
    action = m["action"]
    if action == 0:
        f = [("cipherSuite", m["cipher_suite"]), ("encryptIV", hexb64("encrypt_iv"))]
        if m.get("axt_suites"):
            f.append(("axtSuites", m["axt_suites"]))
        if m.get("client_random"):
            f.append(("clientRandom", hexb64("client_random")))
    elif action == 1:
        f = [("clientCertificate", m["client_certificate"])]
        f += [(k, m[s]) for k, s in [("axtSuite", "axt_suite")] if m.get(s)]
        f += [("agentRandom", hexb64("agent_random"))] if m.get("agent_random") else []
    elif action == 2:
        f = [("clientPub", hexb64("client_pub")), ("signature", m["signature"])] if m.get("client_pub") else []
        f += [("kmsCipherTextKey", m["kms_cipher_text_key"])] if m.get("kms_cipher_text_key") else []
    elif action == 3:
        f = [(k, hexb64(s)) for k, s in [("agentPub", "agent_pub"), ("signature", "signature")] if m.get(s)]
    else:
        f = [("code", m["code"]), ("message", m["message"])]
    return bytes([action]) + go_json(f)


def compute(v: dict) -> dict:
    """Every output of the file, from its inputs alone."""
    out = {"ecdh_p256": ecdh_p256(v["ecdh_p256"]), "x25519": x25519(v["x25519"])}
    cbc = v["aes_256_cbc"]
    key, iv = bytes.fromhex(cbc["key"]), bytes.fromhex(cbc["iv"])
    out["aes_256_cbc"] = [aes_cbc(key, iv, bytes.fromhex(c["plaintext"])).hex() for c in cbc["cases"]]
    ecdh_key = bytes.fromhex(out["ecdh_p256"]["shared"])
    out["aes_256_cbc_ecdh_key"] = aes_cbc(ecdh_key, iv, bytes.fromhex(cbc["cases"][0]["plaintext"])).hex()
    out["handshakes"] = [handshake(h, out["x25519"], v["rsa"]["private_key_pem"]) for h in v["handshakes"]]
    keys, channel = out["handshakes"][0], v["handshakes"][0]["channel_id"]
    out["records"] = [record(keys, channel, r) for r in v["records"]]
    out["exchange"] = [payload(m).hex() for m in v["exchange"]]
    return out


def merge(v: dict, out: dict) -> None:
    """Writes the outputs into the file's structure, beside their inputs."""
    v["ecdh_p256"].update(out["ecdh_p256"])
    v["x25519"].update(out["x25519"])
    for case, ct in zip(v["aes_256_cbc"]["cases"], out["aes_256_cbc"]):
        case["ciphertext"] = ct
    v["aes_256_cbc"]["first_case_under_ecdh_shared_key"] = out["aes_256_cbc_ecdh_key"]
    for h, o in zip(v["handshakes"], out["handshakes"]):
        h.update(o)
    for r, o in zip(v["records"], out["records"]):
        r.update(o)
    for m, p in zip(v["exchange"], out["exchange"]):
        m["payload"] = p


def inputs() -> dict:
    """The fixed inputs (and a fresh RSA test key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    h = {"channel_id": "e2e-vector-channel", "instance_id": "mi-e2evector0001", "client_random": fixed("client random").hex(), "agent_random": fixed("agent random").hex()}
    iv = fixed("iv", 16).hex()
    return {
        "comment": "Generated by tests/sdk/test_e2e_vectors.py --write (Python cryptography); checked by it and by proto/tests/e2e_vectors.rs. Test keys only.",
        "rsa": {"private_key_pem": pem, "public_key_pem": public},
        "ecdh_p256": {"client_scalar": fixed("p256 client").hex(), "agent_scalar": fixed("p256 agent").hex()},
        "aes_256_cbc": {"key": fixed("aes key").hex(), "iv": iv, "cases": [{"plaintext": p.hex()} for p in [b"", b"ls -l\r", b"0123456789abcdef", b"x" * 33]]},
        "x25519": {"client_private": fixed("x25519 client").hex(), "agent_private": fixed("x25519 agent").hex()},
        "handshakes": [dict(h, kms_plaintext=None), dict(h, kms_plaintext=fixed("kms data key").hex())],
        "records": [
            {"direction": "client_to_agent", "counter": 0, "inner": {"data": b"ls -l\r".hex()}},
            {"direction": "client_to_agent", "counter": 1, "inner": {"resize": [120, 40]}},
            {"direction": "agent_to_client", "counter": 0, "inner": {"data": b"total 0\r\n".hex()}},
            {"direction": "agent_to_client", "counter": 1, "inner": {"close": "exit"}},
        ],
        "exchange": [
            {"action": 0, "cipher_suite": "AXT_ECDHE_WITH_AES_256_CBC", "encrypt_iv": iv},
            {"action": 0, "cipher_suite": "AXT_KMS_WITH_AES_256_CBC", "encrypt_iv": iv, "axt_suites": [SUITE], "client_random": h["client_random"]},
            {"action": 1, "client_certificate": False},
            {"action": 1, "client_certificate": False, "axt_suite": SUITE, "agent_random": h["agent_random"]},
            {"action": 2, "client_pub": p256_public(fixed("p256 client"))[1].hex(), "signature": ""},
            {"action": 2, "kms_cipher_text_key": "ODZmZTcxYjEtYmI5MC00NGE3LTk0ZTEtNDFiNTc2MjIzYmU0"},
            {"action": 2, "client_pub": fixed("x25519 client pub").hex(), "signature": "", "kms_cipher_text_key": "blob+/="},
            {"action": 3},
            {"action": 3, "agent_pub": p256_public(fixed("p256 agent"))[1].hex()},
            {"action": 3, "agent_pub": fixed("x25519 agent pub").hex(), "signature": fixed("signature", 32).hex()},
            {"action": 11, "code": "KeyExchangeError.IVDecodeError", "message": "Failed to decode iv with base64: {CipherSuite:x EncryptIV:<&>}"},
        ],
    }


def test_vectors_match_an_independent_implementation():
    v = json.loads(VECTORS.read_text())
    fresh = json.loads(json.dumps(v))
    merge(fresh, compute(v))
    assert fresh == v


def test_the_rsa_test_key_is_2048_bits_and_its_public_half_matches():
    v = json.loads(VECTORS.read_text())["rsa"]
    key = serialization.load_pem_private_key(v["private_key_pem"].encode(), password=None)
    assert key.key_size == 2048
    assert v["private_key_pem"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert public == v["public_key_pem"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: test_e2e_vectors.py --write")
    data = inputs()
    merge(data, compute(data))
    VECTORS.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {VECTORS}")
