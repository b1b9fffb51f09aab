"""DKIM signing (RFC 6376, rsa-sha256, relaxed/relaxed) of test messages,
with a key made at test time, for the benchmark and the DMARC stage's tests
(OpenDKIM verifies what it signs)."""

from __future__ import annotations

import base64
import hashlib
import re
import time

SELECTOR = "sel"


class DkimSigner:
    def __init__(self, selector=SELECTOR):
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        self.selector = selector
        self._hashes, self._padding = hashes, padding
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_b64 = base64.b64encode(der).decode()

    def txt_rdata(self):
        """The key record as zone-file TXT RDATA (strings of at most 255)."""
        value = f"v=DKIM1; k=rsa; p={self.public_b64}"
        return " ".join(f'"{value[i:i + 200]}"' for i in range(0, len(value), 200))

    @staticmethod
    def _relaxed_header(name, value):
        value = re.sub(r"[ \t]+", " ", value.replace("\r\n", "").replace("\n", "")).strip()
        return f"{name.lower().strip()}:{value}"

    @staticmethod
    def _relaxed_body(lines):
        out = [re.sub(r"[ \t]+", " ", line).rstrip(" \t") for line in lines]
        while out and out[-1] == "":
            out.pop()
        return "".join(line + "\r\n" for line in out)

    def sign(self, headers, body_lines, domain):
        """DKIM-Signature header line for headers [(name, value)] and body."""
        bh = base64.b64encode(hashlib.sha256(self._relaxed_body(body_lines).encode()).digest()).decode()
        names = [n for n, _ in headers]
        value = (
            f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s={self.selector}; "
            f"t={int(time.time())}; h={':'.join(n.lower() for n in names)}; bh={bh}; b="
        )
        data = "".join(self._relaxed_header(n, v) + "\r\n" for n, v in headers)
        data += self._relaxed_header("DKIM-Signature", value)
        sig = self.key.sign(data.encode(), self._padding.PKCS1v15(), self._hashes.SHA256())
        return "DKIM-Signature: " + value + base64.b64encode(sig).decode()

    def sign_message(self, text, domain):
        """A CRLF message (unfolded headers, as rig.messages.message_text
        writes) with a DKIM-Signature of domain on top, over all its headers
        but Authentication-Results (which the receiver's stage 1 may delete)."""
        head, _, body = text.partition("\r\n\r\n")
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in head.split("\r\n")]
        headers = [(name, value) for name, value in headers if name.lower() != "authentication-results"]
        signature = self.sign(headers, body.split("\r\n"), domain)
        return signature + "\r\n" + text
