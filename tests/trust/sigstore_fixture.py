"""A Sigstore instance built offline, for keyless model-signing bundles in tests.

:func:`make_instance` creates the three keys a public-good Sigstore has (a Fulcio CA, a CT log,
a Rekor log) and writes their ``trusted_root.json``; :meth:`SigstoreInstance.sign_dsse` plays
Fulcio, the CT log and Rekor for one signature: a short-lived leaf certificate that names the
signer (SAN and the OIDC-issuer extensions) with an embedded SCT, a DSSE signature made with
the leaf's key, and a ``dsse`` v0.0.1 Rekor entry with a signed inclusion promise and an
inclusion proof up to a signed checkpoint. The result is a sigstore bundle v0.3, as
``model_signing sign sigstore`` writes, which sigstore-python's ``Verifier`` checks as it checks
the real ones.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

# Fulcio's OIDC-issuer extensions: the raw issuer URL (legacy) and a DER UTF8String (v2)
OIDC_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
EMBEDDED_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
TRUSTED_ROOT_V01 = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
IN_TOTO = "application/vnd.in-toto+json"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_id(key: ec.EllipticCurvePrivateKey) -> bytes:
    """RFC 6962's key id: SHA-256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(_spki(key)).digest()


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """A CA signs certificates; a Fulcio leaf signs (code) with its digital signature only."""
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _der_octet_string(data: bytes) -> bytes:
    if len(data) < 0x80:
        return bytes([0x04, len(data)]) + data
    size = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(size)]) + size + data


def _der_utf8(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 0x80, "issuer URLs in tests are short"
    return bytes([0x0C, len(data)]) + data


@dataclass
class SigstoreInstance:
    """One offline Sigstore: its keys, and the trusted root that names them."""

    name: str
    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate
    ct_key: ec.EllipticCurvePrivateKey
    rekor_key: ec.EllipticCurvePrivateKey
    start: dt.datetime
    log_index: int = field(default=0)

    def trusted_root(self) -> dict:
        """The ``trusted_root.json`` document (sigstore's TrustedRoot v0.1)."""
        since = {"start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ")}

        def log(key: ec.EllipticCurvePrivateKey, url: str) -> dict:
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(_spki(key)),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": since,
                },
                "logId": {"keyId": _b64(_key_id(key))},
            }

        return {
            "mediaType": TRUSTED_ROOT_V01,
            "tlogs": [log(self.rekor_key, f"https://rekor.{self.name}.test")],
            "certificateAuthorities": [
                {
                    "subject": {"organization": self.name, "commonName": f"{self.name} fulcio"},
                    "uri": f"https://fulcio.{self.name}.test",
                    "certChain": {
                        "certificates": [
                            {
                                "rawBytes": _b64(
                                    self.ca_cert.public_bytes(serialization.Encoding.DER)
                                )
                            }
                        ]
                    },
                    "validFor": since,
                }
            ],
            "ctlogs": [log(self.ct_key, f"https://ctfe.{self.name}.test")],
            "timestampAuthorities": [],
        }

    def write_trusted_root(self, path: Path) -> Path:
        path.write_text(json.dumps(self.trusted_root(), indent=2))
        return path

    # --- Fulcio and the CT log ------------------------------------------------------------------

    def issue(
        self, leaf: ec.EllipticCurvePrivateKey, identity: str, issuer: str, at: dt.datetime
    ) -> x509.Certificate:
        """A Fulcio-style leaf for ``identity`` (an email, or a URI when it has ``://``) from
        ``issuer``, valid ten minutes from ``at``, carrying an SCT from this CT log."""
        san: x509.GeneralName = (
            x509.UniformResourceIdentifier(identity)
            if "://" in identity
            else x509.RFC822Name(identity)
        )
        serial = x509.random_serial_number()
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (_key_usage(ca=False), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False),
            (x509.SubjectKeyIdentifier.from_public_key(leaf.public_key()), False),
            (
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                False,
            ),
            (x509.SubjectAlternativeName([san]), True),
            (x509.UnrecognizedExtension(OIDC_ISSUER_V1, issuer.encode()), False),
            (x509.UnrecognizedExtension(OIDC_ISSUER_V2, _der_utf8(issuer)), False),
        ]

        def build(extra: list[tuple[x509.ExtensionType, bool]]) -> x509.Certificate:
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([]))
                .issuer_name(self.ca_cert.subject)
                .public_key(leaf.public_key())
                .serial_number(serial)
                .not_valid_before(at)
                .not_valid_after(at + dt.timedelta(minutes=10))
            )
            for ext, critical in extensions + extra:
                builder = builder.add_extension(ext, critical=critical)
            return builder.sign(self.ca_key, hashes.SHA256())

        # the CT log signs the precertificate: the final TBS without the SCT list
        precert_tbs = build([]).tbs_certificate_bytes
        sct = self._sct(precert_tbs, at)
        sct_list = struct.pack("!H", len(sct)) + sct
        sct_ext = x509.UnrecognizedExtension(
            EMBEDDED_SCT_LIST, _der_octet_string(struct.pack("!H", len(sct_list)) + sct_list)
        )
        cert = build([(sct_ext, False)])
        assert cert.tbs_precertificate_bytes == precert_tbs
        return cert

    def _sct(self, precert_tbs: bytes, at: dt.datetime) -> bytes:
        """An RFC 6962 v1 SCT over a precertificate entry, signed with the CT log's key."""
        millis = int(at.timestamp() * 1000)
        issuer_key_hash = _key_id(self.ca_key)
        entry = issuer_key_hash + len(precert_tbs).to_bytes(3, "big") + precert_tbs
        signed = struct.pack("!BBQH", 0, 0, millis, 1) + entry + struct.pack("!H", 0)
        signature = _sign(self.ct_key, signed)
        return (
            struct.pack("!B", 0)
            + _key_id(self.ct_key)
            + struct.pack("!QH", millis, 0)
            + struct.pack("!BBH", 4, 3, len(signature))  # sha256, ecdsa
            + signature
        )

    # --- Rekor ----------------------------------------------------------------------------------

    def _log_entry(self, envelope: dict, cert: x509.Certificate, at: dt.datetime) -> dict:
        """A ``dsse`` v0.0.1 entry for ``envelope``, alone in a fresh tree of one leaf: the
        inclusion promise (SET) and a checkpoint, both signed with the Rekor key."""
        payload = base64.b64decode(envelope["payload"])
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        body = json.dumps(
            {
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(json.dumps(envelope).encode()).hexdigest(),
                    },
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(payload).hexdigest(),
                    },
                    "signatures": [
                        {"signature": s["sig"], "verifier": _b64(cert_pem)}
                        for s in envelope["signatures"]
                    ],
                },
            },
            separators=(",", ":"),
        ).encode()
        integrated = int(at.timestamp()) + 1
        log_id = _key_id(self.rekor_key)
        index = self.log_index
        self.log_index += 1
        promise = rfc8785.dumps(
            {
                "body": _b64(body),
                "integratedTime": integrated,
                "logID": log_id.hex(),
                "logIndex": index,
            }
        )
        root = hashlib.sha256(b"\x00" + body).digest()  # RFC 6962 leaf hash; tree of one
        signer = f"rekor.{self.name}.test"  # a signed note's key name has no spaces
        note = f"{signer} - 1\n1\n{_b64(root)}\n"
        note_sig = _b64(log_id[:4] + _sign(self.rekor_key, note.encode()))
        return {
            "logIndex": str(index),
            "logId": {"keyId": _b64(log_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": str(integrated),
            "inclusionPromise": {"signedEntryTimestamp": _b64(_sign(self.rekor_key, promise))},
            "inclusionProof": {
                "logIndex": "0",
                "rootHash": _b64(root),
                "treeSize": "1",
                "hashes": [],
                "checkpoint": {"envelope": f"{note}\n\u2014 {signer} {note_sig}\n"},
            },
            "canonicalizedBody": _b64(body),
        }

    # --- the signer -----------------------------------------------------------------------------

    def sign_dsse(
        self, payload: bytes, *, identity: str, issuer: str, payload_type: str = IN_TOTO
    ) -> str:
        """A sigstore bundle v0.3 (JSON) of ``payload`` signed keylessly as ``identity``."""
        at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
        leaf = ec.generate_private_key(ec.SECP256R1())
        cert = self.issue(leaf, identity, issuer, at)
        envelope = {
            "payload": _b64(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": _b64(_sign(leaf, _pae(payload_type, payload)))}],
        }
        return json.dumps(
            {
                "mediaType": BUNDLE_V03,
                "verificationMaterial": {
                    "certificate": {
                        "rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))
                    },
                    "tlogEntries": [self._log_entry(envelope, cert, at)],
                },
                "dsseEnvelope": envelope,
            }
        )


def make_instance(name: str = "provreg") -> SigstoreInstance:
    """A fresh Sigstore instance (CA valid from a day ago for ten years)."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} fulcio"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    return SigstoreInstance(
        name=name,
        ca_key=ca_key,
        ca_cert=ca_cert,
        ct_key=ec.generate_private_key(ec.SECP256R1()),
        rekor_key=ec.generate_private_key(ec.SECP256R1()),
        start=start,
    )
