#!/usr/bin/python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (committed; rerun after
editing). Seeds come from RFC 8601's examples, the draft's Client MX example,
the unit tests, and inputs the fuzzers found that once failed (kept by name
here, so that they stay in the corpus). Fields of the text targets are
separated by NUL (see fuzz_support.h)."""
import os
import struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    open(os.path.join(d, name), "wb").write(data)


# identity: reverse-path \0 helo
ident = {
    "plain": "<user@example.org>\0out1.example.org",
    "upper": "<User@Example.ORG>\0",
    "null-sender": "<>\0Out1.Example.NET.",
    "null-sender-literal": "<>\0[192.0.2.1]",
    "null-sender-no-helo": "<>\0",
    "source-route": "<@relay.example,@other.example:user@example.org>\0h.example",
    "quoted-local": '<"a@b c"@example.org>\0h.example',
    "quoted-unterminated": '<"a@example.org>\0h.example',
    "address-literal": "<user@[IPv6:2001:db8::1]>\0h.example",
    "trailing-dot": "<user@example.org.>\0h.example",
    "no-brackets": "user@sub.example.org\0h.example",
    "smtputf8": "<jürgen@bücher.example>\0mx.bücher.example",
    "utf8-all": "<用户@例え.テスト>\0",
    "crlf-injection": "<user@example.org>\r\nX: y\0host.example\r\nX: y",
    "double-at": "<user@example.org@evil.example>\0h.example",
    "numeric-tld": "<user@192.0.2.1>\0192.0.2.1",
    "xn-bogus": "<user@xn--zz.example>\0xn--zz",
    "long-label": "<u@" + "a" * 64 + ".example>\0" + "b" * 63 + ".example",
}
for k, v in ident.items():
    put("fuzz_identity", k, v)

# domain names
for k, v in {
    "simple": "Out1.Example.ORG.",
    "wildcard": "*.example.org",
    "wildcard-bad": "a*.example.org",
    "idn": "bücher.example",
    "a-label": "xn--bcher-kva.example",
    "a-label-bad": "xn--zz.example",
    "underscore": "bad_name.example",
    "empty-label": "example..org",
    "numeric": "192.0.2.1",
    "hyphen": "-out1.example",
    "max-label": "a" * 63 + ".example",
    "long-name": ".".join(["a" * 63] * 4),
    "emoji": "\U0001F600.example",
    "fullwidth-dot": "example\uff0eorg",
    "nul": "host.example\0.evil",
    "root": ".",
    "sharp-s": "faß.de",
    "bidi": "\u05d0\u05d1.example",
}.items():
    put("fuzz_domain_name", k, v)


# client mx rdata: raw wire RDATA (first two bytes double as dnssec/policy for decide()).
def rdata(pref, host):
    out = struct.pack(">H", pref)
    for label in [l for l in host.split(".") if l]:
        b = label.encode("latin-1")
        out += bytes([len(b)]) + b
    return out + b"\0"


for k, v in {
    "draft-example": rdata(10, "out1.example.test"),
    "upper": rdata(5, "OUT1.Example.TEST"),
    "null": b"\0\0\0",
    "compression": b"\0\x0a\x01a\xc0\x0c",
    "ext-label": b"\0\x0a\x40a\0",
    "truncated": b"\0\x0a\x05ab",
    "trailing": rdata(10, "a.example") + b"x",
    "wildcard-host": rdata(10, "x.example.org"),
    "match": rdata(0, "out1.example.org"),
    "label63": rdata(10, "a" * 63 + ".example"),
    "numeric": rdata(10, "192.0.2.1"),
    "a-label": rdata(10, "xn--bcher-kva.example"),
}.items():
    put("fuzz_client_mx", k, v)


# records as an RRset for decide(): [dnssec][policy] then [len][rdata]...
def rrset(dnssec, policy, *records):
    out = bytes([dnssec, policy])
    for r in records:
        out += bytes([len(r)]) + r
    return out


put(
    "fuzz_client_mx",
    "rrset-secure-match",
    rrset(0, 1, rdata(10, "out1.example.org"), rdata(20, "out2.example.org")),
)
put("fuzz_client_mx", "rrset-wildcard", rrset(0, 2, rdata(10, "mail.example.org")))
put("fuzz_client_mx", "rrset-bogus", rrset(2, 0, rdata(10, "out1.example.org")))
put("fuzz_client_mx", "rrset-null-and-host", rrset(1, 0, b"\0\0\0", rdata(5, "out1.example.org")))

# tls evidence: name=value fields
PF = "{tls_version}=TLSv1.3\0{cipher}=TLS_AES_256_GCM_SHA384\0{cipher_bits}=256"
for k, v in {
    "postfix-verified": PF + "\0{cert_subject}=out1.example.org\0{cert_issuer}=Example CA",
    "postfix-verified-empty-cn": PF + "\0{cert_subject}=",
    "postfix-unverified": PF + "\0{cert_issuer}=Example CA",
    "postfix-no-tls": "{cert_subject}=out1.example.org",
    "postfix-wildcard": PF + "\0{cert_subject}=*.Example.ORG",
    "postfix-idn": PF + "\0{cert_subject}=bücher.example",
    "sendmail-ok": "{tls_version}=TLSv1.3\0{verify}=OK\0{cert_subject}=/C=US/O=Example/CN=out1.example.org\0{cn_subject}=out1+2Eexample.org\0{cn_issuer}=Example+20CA",
    "sendmail-fail": "{tls_version}=TLSv1.2\0{verify}=FAIL\0{cn_subject}=out1.example.org",
    "sendmail-no": "{tls_version}=TLSv1.2\0{verify}=NO",
    "sendmail-none": "{verify}=NONE",
    "sendmail-bad-xtext": "{cipher}=AES\0{verify}=OK\0{cn_subject}=out1+ZZexample",
    "sendmail-xtext-nul": "{cipher}=AES\0{verify}=OK\0{cn_subject}=out1.example.org+00.evil",
    "xtext": "a+20b+2B+3D+FF+2b",
    "sendmail-none-tls": "{tls_version}=TLSv1.3\0{verify}=NONE",
    "sendmail-clear-tls": "{cipher}=AES\0{verify}=CLEAR\0{cn_subject}=x.example",
    "sendmail-not": "{cipher}=AES\0{verify}=NOT",
    "postfix-long-subject": PF + "\0{cert_subject}=" + "a" * 5000,
    "xtext-truncated": "abc+2",
}.items():
    put("fuzz_tls_evidence", k, v)

# incoming Authentication-Results bodies (RFC 8601 examples and the unit tests)
for k, v in {
    "rfc8601-spf": "example.com; spf=pass smtp.mailfrom=example.net",
    "rfc8601-none": "example.com 1; none",
    "rfc8601-multi": "example.com;\n\tauth=pass (cram-md5) smtp.auth=sender@example.net;\n\tspf=pass smtp.mailfrom=example.net",
    "rfc8601-dkim": 'example.com;\n\tdkim=pass reason="good signature"\n\theader.i=@mail-router.example.net;\n\tdkim=fail reason="bad signature"\n\theader.i=@newyork.example.com',
    "ours": "mx.example.net; mtls=pass (certificate name out1.example.org; DNSSEC secure) smtp.mailfrom=example.org",
    "ours-upper-dot": "MX.Example.NET.; mtls=pass",
    "ours-quoted": '"mx.example.net"; mtls=pass',
    "ours-escaped": '"\\m\\x.example.net"; mtls=pass',
    "ours-comment": "(nested (comment)) mx.example.net (x) 1 (y); mtls=pass",
    "ours-garbage": "mx.example.net garbage after; mtls=pass",
    "ours-unterminated-quote": '"mx.example.net; mtls=pass',
    "unterminated-comment": "(comment mx.example.net; spf=pass",
    "trailing-backslash": "(trailing backslash \\",
    "folded": "  \r\n\tmx.example.net;mtls=pass",
    "other": "other.example; mtls=pass smtp.mailfrom=mx.example.net",
    # resinfo alone: the target also reads it behind our id, as the DMARC
    # stage reads OpenDKIM's and an SPF filter's results
    "opendkim-resinfo": "dkim=pass (2048-bit key; unprotected) header.d=secure.test header.i=@secure.test "
    "header.a=rsa-sha256 header.s=sel header.b=q/4+Zx/w; spf=softfail smtp.mailfrom=b@example.com",
    "dkim-long-names": "dkim=fail header.d="
    + ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    + " header.s="
    + ".".join(["s" * 63] * 4)
    + "; dkim=pass header.d=example.com header.s=20230601",
}.items():
    put("fuzz_authentication_results", k, v)

# config files
for k, v in {
    "full": """# mtls-milter.conf
socket = inet:8894@127.0.0.1
authserv-id = mx.example.net
unbound-config = /etc/mtls-milter/unbound.conf
trust-anchor-file = /usr/share/dns/root.key
client-mx-type = 65280
dns-timeout = 2.5
require-dnssec = yes
allow-wildcards = no
on-fail = reject
on-temperror = tempfail
ignore-hosts = 127.0.0.0/8, ::1, 192.0.2.0/24 2001:db8::/32
skip-authenticated = yes
log-format = json
syslog = no
syslog-facility = local3
log-stderr = yes
user = mtls-milter
umask = 027
pidfile = /run/mtls-milter/mtls-milter.pid
foreground = yes
metrics = 127.0.0.1:9700
""",
    "metrics-v6": "authserv-id = x\nmetrics = [::1]:9700\n",
    "metrics-bad": "authserv-id = x\nmetrics = localhost:99999\n",
    "minimal": "authserv-id = mx.example.net\n",
    "unix": "socket = unix:/run/mtls-milter/mtls-milter.sock\nauthserv-id=a\n",
    "unknown-option": "authserv-id = x\nbogus = 1\n",
    "section": "[engine]\nauthserv-id = x\n",
    "bad-type": "authserv-id = x\nclient-mx-type = 41\n",
    "bad-timeout": "authserv-id = x\ndns-timeout = nan\n",
    "bad-id": "authserv-id = not a token\n",
    "bad-hosts": "authserv-id = x\nignore-hosts = 10.0.0.0/33, ::ffff:127.0.0.1/120\n",
    "duplicate": "authserv-id = x\nauthserv-id = y\n",
    "no-equals": "authserv-id\n",
    "umask": "authserv-id = x\numask = 0777\n",
}.items():
    put("fuzz_settings", k, v)


# header writer: 4 control bytes then id \0 reverse-path \0 helo \0 text \0 host...
def fmt(ctrl, *fields):
    return bytes(ctrl) + "\0".join(fields).encode("utf-8")


W = "fuzz_format_authentication_results"
put(
    W,
    "decide-pass",
    fmt(
        [0, 0, 0, 4],
        "mx.example.net",
        "<alice@example.org>",
        "out1.example.org",
        "out1.example.org",
        "out1.example.org",
        "out2.example.org",
    ),
)
put(
    W,
    "decide-fail",
    fmt([0, 0, 1, 4], "mx.example.net", "<alice@example.org>", "h", "rogue.example.org", "out1.example.org"),
)
put(
    W, "decide-wildcard", fmt([0, 0, 0, 6], "mx", "<a@example.org>", "h", "*.example.org", "out1.example.org")
)
put(W, "decide-null-mx", fmt([0, 0, 0, 4], "mx.example.net", "<a@example.org>", "h", "out1.example.org", ""))
put(W, "decide-nodata", fmt([0, 1, 0, 0], "mx.example.net", "<a@example.org>", "h", "", ""))
put(W, "decide-timeout", fmt([0, 5, 3, 0], "mx.example.net", "<a@example.org>", "h", "", ""))
put(
    W,
    "helo-pass",
    fmt([0, 0, 0, 4], "mx.example.net", "<>", "Out1.Example.NET.", "out1.example.net", "out1.example.net"),
)
put(W, "unusable", fmt([0, 0, 0, 0], "mx.example.net", "<user@[192.0.2.1]>", "h", "", ""))
long_host = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57])
put(W, "long-domain", fmt([0, 0, 0, 4], "m", "<x@" + long_host + ">", "h", long_host, long_host))
put(
    W,
    "long-id",
    fmt(
        [0, 0, 0, 4],
        "x" * 60 + ".example.com",
        "<a@" + "e" * 50 + ".example.org>",
        "h",
        "h" * 40 + ".example.org",
        "h" * 40 + ".example.org",
    ),
)
put(
    W,
    "direct-reason-quotes",
    fmt(
        [1, 1, 1, 0],
        "mx.example.net",
        "<a@example.org>",
        "h",
        'say "hi" \\ there mtls=pass; x=y (c)',
        "out1.example.org",
    ),
)
put(W, "direct-long-reason", fmt([1, 3, 2, 0], "mx.example.net", "<a@example.org>", "h", "a " * 60, ""))
put(
    W,
    "bad-id",
    fmt([0, 0, 0, 4], "not a token;", "<a@example.org>", "h", "out1.example.org", "out1.example.org"),
)

# Found by fuzz_settings: Boost.Program_options' error::what() looped forever
# on these (see the regression test in tests/unit/test_settings.cc).
put("fuzz_settings", "boost-placeholder-loop", "a,rgument ('%v%original_token%.rv-id =///////net\n")
put("fuzz_settings", "boost-placeholder-line", "%invalid_line%\n")

# dmarc record: the TXT text (RFC 9989 section 4.7 and its examples)
for k, v in {
    "rfc-example": "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com",
    "full": "v=DMARC1; p=quarantine; sp=reject; np=reject; psd=n; t=y; adkim=s; aspf=s; "
    "rua=mailto:a@example.com!10m, mailto:b@example.net; ruf=mailto:f@example.com; fo=d:s",
    "psd": "v=DMARC1; p=none; psd=y",
    "no-p-rua": "v=DMARC1; rua=mailto:r@example.com",
    "bad-sp-rua": "v=DMARC1; p=reject; sp=bogus; rua=mailto:r@example.com",
    "v-not-first": "p=reject; v=DMARC1",
    "lower-version": "v=dmarc1; p=reject",
    "historic": "v=DMARC1; p=reject; pct=0; rf=iodef; ri=3600",
    "empty-tags": "v=DMARC1;;;p=;=;x",
    "txt-rdata": b"\x08v=DMARC1\x0a; p=reject",
}.items():
    put("fuzz_dmarc_record", k, v)

# author domain: From field bodies separated by NUL
for k, v in {
    "plain": "user@Example.COM",
    "display-name": '"Joe Q. Public" <john.q.public@example.com>',
    "quoted-at": '"a@b" <u@example.test>',
    "comments": "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
    "group": "A Group:Ed Jones <c@a.test>,joe@a.test;",
    "undisclosed": "Undisclosed recipients:;",
    "route": "<@relay.test,@other.test:user@example.test>",
    "two-domains": "a@example.com, b@example.net",
    "two-fields": "a@example.com\0b@example.com",
    "unparseable": "user@example.net>",
    "literal": "user@[192.0.2.1]",
    "idn": "Jürgen <j@bücher.example>",
    "obs-domain": "user @ example . test",
    "unterminated": '"unterminated <u@example.com>',
}.items():
    put("fuzz_author_domain", k, v)


# socketmap: one chunking byte, then the stream as Postfix writes it
def ns(s):
    s = s.encode() if isinstance(s, str) else s
    return str(len(s)).encode() + b":" + s + b","


for k, v in {
    "two-requests": ns("postfix example.com") + ns("postfix [mx.example.com]:25"),
    "no-space": ns("postfix"),
    "empty": ns(""),
    "control": ns("postfix exa\nmple.com") + ns("postfix ok.example"),
    "leading-zero": b"019:postfix example.com,",
    "no-comma": b"19:postfix example.com;",
    "absurd-length": b"99999999999999:postfix",
    "http": b"GET / HTTP/1.0\r\n\r\n",
    "partial": b"19:postfix exa",
}.items():
    put("fuzz_socketmap", k, b"\x07" + v)

# MTA-STS: policy body \0 TXT record \0 MX host
rfc_policy = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n"
for k, v in {
    "rfc8461-example": rfc_policy + "\0v=STSv1; id=20160831085700Z;\0mx1.example.net",
    "rfc8461-crlf": rfc_policy.replace("\n", "\r\n") + "\0v=STSv1;id=a\0a.b.example.net",
    "dnssec-yes": "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86400\ndnssec: yes\n\0v=STSv1; id=1; ext=x\0MAIL.EXAMPLE.COM.",
    "mode-none": "version: STSv1\nmode: none\nmax_age: 86400\n\0v=STSv1\0example.com",
    "capped": "version: STSv1\nmode: testing\nmx: *.example\nmax_age: 9999999999\n\0v=STSv1; id=a; id=b\0x.example",
    "garbage": "<html><body>404</body></html>\0v=STSv1 id=1\0",
    "bad-wildcard": "version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n\0id=1; v=STSv1\0a.example",
}.items():
    put("fuzz_sts_policy", k, v)


# SMTP replies a discovery probe reads: one control byte (chunk size - 1)
# then the stream (fuzz_smtp_reply.cc).
for k, v in {
    "banner": "\x03220 mx.example.org ESMTP\r\n",
    "ehlo-starttls": "\x07250-mx.example.org\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
    "ehlo-no-starttls": "\x00250-mx.example.org\r\n250 SIZE 10240000\r\n",
    "bare-code": "\x01220\r\n",
    "starttls-injection": "\x3f220 go ahead\r\n250 injected\r\n",
    "bare-lf": "\x05220 mx.example.org\n",
    "nul": "\x02220 mx\0example\r\n",
    "code-change": "\x10250-a\r\n550 b\r\n",
    "long-line": "\x3f220 " + "x" * 600 + "\r\n",
    "no-crlf": "\x20220 " + "y" * 100,
    "rejection": "\x08554 5.7.1 no thanks\r\n",
    "utf8": "\x04220 caf\u00e9 ready\r\n",
    # once failed: a line of exactly 512 octets read a byte at a time was
    # refused when the read ended between its CR and LF
    "limit-line-split-at-cr": "\x00220 " + "x" * 506 + "\r\n",
}.items():
    put("fuzz_smtp_reply", k, v)
