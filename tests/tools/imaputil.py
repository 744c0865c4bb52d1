"""imaputil - shared IMAP helpers for the test tools (corpus.py, digest.py).

Contract:
  connect(host, port, mode, cafile, user, password, ...) -> logged-in imaplib.IMAP4
      mode 'imaps' (TLS from the first byte), 'starttls' (plain connect, STARTTLS, then login)
      or 'none' (no TLS at all; the lab refuses such logins, which tests rely on).  TLS always
      verifies the server certificate against cafile (or the system store if cafile is None)
      and checks the host name.  With master=NAME the login is AUTHENTICATE PLAIN with
      authorization identity = user and authentication identity = NAME.
  mutf7_encode(str) -> str / mutf7_decode(str) -> str: RFC 3501 modified UTF-7, written here
      independently of the C implementation so that the two can check each other.
  Session(imap): pipelined raw commands on top of an imaplib connection (imaplib itself waits
      for every literal continuation and cannot pipeline).  Responses are parsed into tokens:
      bytes for atoms/strings/literals, None for NIL, lists for parenthesised lists.
  list_folders(session) -> [Folder(name, raw, sep, attrs)], name decoded to UTF-8 text.
  internaldate_to_epoch(b'17-Jul-1996 02:44:25 -0700') -> int (UTC seconds).

Only the Python standard library is used.  Nothing here prints passwords.
"""

import calendar
import imaplib
import os
import re
import ssl
import sys
import time
from collections import namedtuple

MODES = ("imaps", "starttls", "none")


class ImapError(Exception):
    """A command failed (NO/BAD/BYE) or the server said something we cannot parse."""


# ------------------------------------------------------------------ passwords

def read_password_file(path):
    """The password in path: the file's content without one trailing newline.

    Warns (stderr) when the file is readable by group or others, like mailshift does."""
    st = os.stat(path)
    if st.st_mode & 0o077:
        print(f"warning: {path} is readable by others (mode {st.st_mode & 0o777:o}); "
              "use chmod 600", file=sys.stderr)
    with open(path, "rb") as f:
        data = f.read()
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    return data.decode("utf-8")


# ------------------------------------------------------------------ TLS and login

def make_ssl_context(cafile):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def open_connection(host, port, mode, cafile=None, timeout=60):
    """Connected, not logged in.  For 'starttls' STARTTLS has been done."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "imaps":
        return imaplib.IMAP4_SSL(host, int(port), ssl_context=make_ssl_context(cafile),
                                 timeout=timeout)
    imap = imaplib.IMAP4(host, int(port), timeout=timeout)
    if mode == "starttls":
        imap.starttls(ssl_context=make_ssl_context(cafile))
    return imap


def login(imap, user, password, master=None, use_login_cmd=False):
    """Log in; with master, as user by the master's password.

    use_login_cmd=True sends LOGIN "user*master" (Dovecot's master-user separator) instead of
    AUTHENTICATE PLAIN with an authorization identity."""
    if master is None:
        if use_login_cmd:
            return imap.login(user, password)
        return imap.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
    if use_login_cmd:
        return imap.login(f"{user}*{master}", password)
    return imap.authenticate("PLAIN", lambda _: f"{user}\0{master}\0{password}".encode())


def connect(host, port, mode, cafile, user, password, master=None, use_login_cmd=False,
            timeout=60):
    """A logged-in imaplib connection (see the module comment)."""
    imap = open_connection(host, port, mode, cafile, timeout=timeout)
    try:
        login(imap, user, password, master=master, use_login_cmd=use_login_cmd)
    except BaseException:
        try:
            imap.shutdown()
        except OSError:
            pass
        raise
    return imap


def add_connection_args(parser):
    """The options every tool takes to reach one account."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=MODES, default="imaps")
    parser.add_argument("--cafile", help="PEM file of the CA that signed the server certificate")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--master", help="log in as --user with this master user's password")


def connect_from_args(args):
    pw = read_password_file(args.password_file)
    return connect(args.host, args.port, args.mode, args.cafile, args.user, pw,
                   master=getattr(args, "master", None))


# ------------------------------------------------------------------ modified UTF-7

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"
_B64_INDEX = {c: i for i, c in enumerate(_B64)}


def _b64_encode_utf16(chars):
    data = "".join(chars).encode("utf-16-be")
    out = []
    bits = nbits = 0
    for byte in data:
        bits = (bits << 8) | byte
        nbits += 8
        while nbits >= 6:
            nbits -= 6
            out.append(_B64[(bits >> nbits) & 0x3F])
    if nbits:
        out.append(_B64[(bits << (6 - nbits)) & 0x3F])
    return "".join(out)


def mutf7_encode(name):
    """UTF-8 text -> modified UTF-7 (RFC 3501 5.1.3)."""
    out = []
    pending = []
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            if pending:
                out.append("&" + _b64_encode_utf16(pending) + "-")
                pending = []
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    if pending:
        out.append("&" + _b64_encode_utf16(pending) + "-")
    return "".join(out)


def mutf7_decode(name):
    """Modified UTF-7 -> text.  Raises ValueError on malformed input (not just the C
    decoder's job to be strict: a test tool that guesses would hide bugs)."""
    out = []
    i = 0
    n = len(name)
    while i < n:
        ch = name[i]
        if ord(ch) < 0x20 or ord(ch) > 0x7E:
            raise ValueError(f"non-ASCII or control character in modified UTF-7: {name!r}")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:
            raise ValueError(f"unterminated '&' shift in {name!r}")
        if end == i + 1:
            out.append("&")
            i = end + 1
            continue
        bits = nbits = 0
        raw = bytearray()
        for c in name[i + 1:end]:
            if c not in _B64_INDEX:
                raise ValueError(f"bad base64 character {c!r} in {name!r}")
            bits = (bits << 6) | _B64_INDEX[c]
            nbits += 6
            if nbits >= 8:
                nbits -= 8
                raw.append((bits >> nbits) & 0xFF)
        if nbits >= 6 or (bits & ((1 << nbits) - 1)):
            raise ValueError(f"non-zero or excess padding bits in {name!r}")
        if len(raw) % 2:
            raise ValueError(f"odd number of UTF-16 bytes in {name!r}")
        try:
            text = raw.decode("utf-16-be")
        except UnicodeDecodeError as e:
            raise ValueError(f"bad UTF-16 in {name!r}: {e}") from None
        if any(0x20 <= ord(c) <= 0x7E for c in text):
            raise ValueError(f"printable ASCII encoded in base64 in {name!r}")
        out.append(text)
        i = end + 1
    return "".join(out)


# ------------------------------------------------------------------ IMAP strings

def imap_quote(s):
    """An IMAP astring for s (bytes or ASCII str): quoted string; use literals for 8-bit."""
    if isinstance(s, str):
        s = s.encode("ascii")
    if any(b < 0x20 or b > 0x7E for b in s):
        raise ValueError("8-bit or control data cannot be quoted; send a literal")
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


_MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
_IDATE = re.compile(rb"^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$")


def internaldate_to_epoch(value):
    """b'17-Jul-1996 02:44:25 -0700' (the IMAP date-time) -> UTC epoch seconds."""
    if isinstance(value, str):
        value = value.encode("ascii")
    m = _IDATE.match(value)
    if not m:
        raise ImapError(f"bad INTERNALDATE {value!r}")
    day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
    month = _MONTHS.get(mon.decode().capitalize())
    if month is None:
        raise ImapError(f"bad month in INTERNALDATE {value!r}")
    t = calendar.timegm((int(year), month, int(day), int(hh), int(mm), int(ss), 0, 0, 0))
    off = (int(zh) * 60 + int(zm)) * 60
    return t - off if sign == b"+" else t + off


def epoch_to_internaldate(t, offset_minutes):
    """UTC epoch + a zone offset -> '17-Jul-1996 02:44:25 -0700'."""
    local = time.gmtime(t + offset_minutes * 60)
    sign = "+" if offset_minutes >= 0 else "-"
    off = abs(offset_minutes)
    mon = list(_MONTHS)[local.tm_mon - 1]
    return (f"{local.tm_mday:02d}-{mon}-{local.tm_year:04d} "
            f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} "
            f"{sign}{off // 60:02d}{off % 60:02d}")


# ------------------------------------------------------------------ response parsing

class Literal(bytes):
    """A string that came as a literal (only the type differs)."""


def tokenize(line):
    """Parse the data of one response (literals already inlined as Literal objects) into a
    token list.  line is a list of bytes chunks and Literal objects, alternating."""
    tokens = []
    stack = [tokens]
    for chunk in line:
        if isinstance(chunk, Literal):
            stack[-1].append(chunk)
            continue
        s = chunk
        i = 0
        n = len(s)
        while i < n:
            c = s[i]
            if c == 0x20:
                i += 1
            elif c == 0x28:  # (
                new = []
                stack[-1].append(new)
                stack.append(new)
                i += 1
            elif c == 0x29:  # )
                if len(stack) == 1:
                    raise ImapError(f"unbalanced ')' in {s!r}")
                stack.pop()
                i += 1
            elif c == 0x22:  # "
                i += 1
                buf = bytearray()
                while True:
                    if i >= n:
                        raise ImapError(f"unterminated quoted string in {s!r}")
                    c = s[i]
                    if c == 0x5C:
                        if i + 1 >= n:
                            raise ImapError(f"bad escape in {s!r}")
                        buf.append(s[i + 1])
                        i += 2
                    elif c == 0x22:
                        i += 1
                        break
                    else:
                        buf.append(c)
                        i += 1
                stack[-1].append(bytes(buf))
            elif c == 0x7B and _LITERAL_AT_END.fullmatch(s, i):  # {n}: literal follows
                i = n
            else:
                j = i
                depth = 0
                while j < n:
                    c = s[j]
                    if c == 0x5B:
                        depth += 1
                    elif c == 0x5D:
                        depth -= 1
                    elif depth == 0 and c in (0x20, 0x28, 0x29):
                        break
                    j += 1
                atom = s[i:j]
                stack[-1].append(None if atom.upper() == b"NIL" else atom)
                i = j
    if len(stack) != 1:
        raise ImapError("unbalanced '(' in response")
    return tokens


_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}$")
_STATUS_WORDS = (b"OK", b"NO", b"BAD", b"BYE", b"PREAUTH")


class Response:
    """One server response: tag (b'*', b'+' or a command tag) and either status + text
    (for OK/NO/BAD/BYE/PREAUTH) or parsed tokens (untagged data such as FETCH, LIST)."""

    __slots__ = ("tag", "status", "text", "tokens")

    def __init__(self, tag, status=None, text=b"", tokens=None):
        self.tag = tag
        self.status = status
        self.text = text
        self.tokens = tokens

    def __repr__(self):
        if self.status:
            return f"Response({self.tag!r} {self.status!r} {self.text[:80]!r})"
        return f"Response({self.tag!r} {repr(self.tokens)[:120]})"


class Session:
    """Pipelined raw commands over an (already logged in) imaplib connection.

    The imaplib object must not be used for commands while a Session command is pending."""

    def __init__(self, imap):
        self.imap = imap
        self.seq = 0
        self.capabilities = set()
        self.refresh_capabilities()

    # -- low level
    def send(self, data):
        self.imap.send(data)

    def next_tag(self):
        self.seq += 1
        return b"x%d" % self.seq

    def read_response(self):
        first = self.imap.readline()
        if not first:
            raise ImapError("connection closed by server")
        chunks = []
        line = first
        while True:
            stripped = line.rstrip(b"\r\n")
            m = _LITERAL_AT_END.search(stripped)
            if m:
                chunks.append(stripped)
                size = int(m.group(1))
                chunks.append(Literal(self._read_exact(size)))
                line = self.imap.readline()
                if not line:
                    raise ImapError("connection closed inside a response")
                continue
            chunks.append(stripped)
            break
        head = chunks[0]
        sp = head.find(b" ")
        tag = head if sp < 0 else head[:sp]
        rest = b"" if sp < 0 else head[sp + 1:]
        if tag == b"+":
            return Response(tag, status=b"+", text=rest)
        word = rest.split(b" ", 1)[0].upper()
        if word in _STATUS_WORDS and len(chunks) == 1:
            return Response(tag, status=word, text=rest[len(word) + 1:])
        return Response(tag, tokens=tokenize([rest] + chunks[1:]))

    def _read_exact(self, size):
        parts = []
        left = size
        while left:
            part = self.imap.read(min(left, 1 << 20))
            if not part:
                raise ImapError("connection closed inside a literal")
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    # -- commands
    def start(self, *parts):
        """Send one command (parts joined by spaces; bytes parts sent as is) without waiting.
        Returns its tag.  Literals must be sent with LITERAL+ ({n+}) by the caller."""
        tag = self.next_tag()
        self.send(tag + b" " + b" ".join(parts) + b"\r\n")
        return tag

    def wait(self, tag, untagged=None):
        """Read responses until the tagged one for tag; untagged ones go to untagged (a list)
        if given.  Returns the tagged Response (status may be NO/BAD: caller decides)."""
        while True:
            r = self.read_response()
            if r.tag == tag:
                return r
            if r.tag == b"*" and r.status == b"BYE":
                raise ImapError(f"server closed the connection: {r.text!r}")
            if untagged is not None:
                untagged.append(r)

    def run(self, *parts, ok=True):
        """Send a command and wait for it.  Returns (tagged Response, [untagged])."""
        untagged = []
        tag = self.start(*parts)
        r = self.wait(tag, untagged)
        if ok and r.status != b"OK":
            raise ImapError(f"{b' '.join(parts)[:200]!r} failed: {r.status.decode()} "
                            f"{r.text.decode(errors='replace')}")
        return r, untagged

    def refresh_capabilities(self):
        _, untagged = self.run(b"CAPABILITY")
        caps = set()
        for r in untagged:
            if r.tokens and r.tokens[0].upper() == b"CAPABILITY":
                caps.update(t.decode().upper() for t in r.tokens[1:] if isinstance(t, bytes))
        self.capabilities = caps
        return caps

    def namespace(self):
        """Personal namespaces as [(prefix, sep)] (empty list if NAMESPACE is unsupported)."""
        if "NAMESPACE" not in self.capabilities:
            return []
        _, untagged = self.run(b"NAMESPACE")
        for r in untagged:
            if r.tokens and r.tokens[0].upper() == b"NAMESPACE":
                personal = r.tokens[1]
                if personal is None:
                    return []
                return [(p[0].decode(), None if p[1] is None else p[1].decode())
                        for p in personal]
        return []

    def logout(self):
        try:
            self.run(b"LOGOUT", ok=False)
        except (ImapError, OSError):
            pass
        try:
            self.imap.shutdown()
        except OSError:
            pass


Folder = namedtuple("Folder", "name raw sep attrs")


def list_folders(session, pattern=b"*", subscribed=False):
    """All folders (LIST or LSUB "" pattern) as Folder tuples.  attrs are lower-case str."""
    cmd = b"LSUB" if subscribed else b"LIST"
    _, untagged = session.run(cmd, b'""', pattern)
    out = []
    for r in untagged:
        if not r.tokens or r.tokens[0].upper() != cmd:
            continue
        attrs, sep, raw = r.tokens[1], r.tokens[2], r.tokens[3]
        raw = bytes(raw).decode("utf-8", errors="replace")
        try:
            name = mutf7_decode(raw)
        except ValueError as e:
            # Some servers send raw UTF-8 or broken names; keep the name as sent.
            print(f"warning: folder name is not valid modified UTF-7 ({e}); using it as is",
                  file=sys.stderr)
            name = raw
        out.append(Folder(name, raw, None if sep is None else sep.decode(),
                          tuple(a.decode().lower() for a in attrs)))
    return out


def folder_arg(name):
    """A folder name (text) as an IMAP command argument (mUTF-7, quoted)."""
    return imap_quote(mutf7_encode(name))


def fetch_items(tokens):
    """From an untagged FETCH response's tokens [seq, b'FETCH', [k, v, ...]] -> (seq, dict)
    with upper-case bytes keys."""
    if len(tokens) < 3 or tokens[1].upper() != b"FETCH" or not isinstance(tokens[2], list):
        raise ImapError(f"not a FETCH response: {tokens!r}"[:200])
    items = tokens[2]
    d = {}
    for i in range(0, len(items) - 1, 2):
        d[bytes(items[i]).upper()] = items[i + 1]
    return int(tokens[0]), d


# ------------------------------------------------------------------ self test

def _self_test():
    """python3 imaputil.py: check the mUTF-7 codec and the response tokenizer."""
    vectors = [
        ("INBOX", "INBOX"), ("&", "&-"), ("a&b", "a&-b"), ("", ""),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 5.1.3
        ("個人 &メモ", "&UAtOug- &-&MOEw4g-"),                            # as Dovecot stores it
        ("取引先", "&U9ZfFVFI-"), ("迷惑メール", "&j,dg0TDhMPww6w-"),
        ("Entwürfe", "Entw&APw-rfe"), ("🎉", "&2DzfiQ-"), ("a\u00e9\u00e9b", "a&AOkA6Q-b"),
    ]
    for text, enc in vectors:
        assert mutf7_encode(text) == enc, (text, mutf7_encode(text), enc)
        assert mutf7_decode(enc) == text, (enc, mutf7_decode(enc), text)
    for bad in ["&", "&U9ZfFVFI", "&AGE-", "&U9Z-", "&AOl-", "&2D0-", "caf\u00e9", "&*-",
                "a\x01b"]:
        try:
            mutf7_decode(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted bad modified UTF-7 {bad!r}")
    t = tokenize([b'5 FETCH (UID 7 FLAGS (\\Seen $Junk) BODY[HEADER.FIELDS (FROM TO)] {3}',
                  Literal(b"abc"), b' INTERNALDATE "01-Jan-2020 00:00:00 +0900")'])
    assert t == [b"5", b"FETCH", [b"UID", b"7", b"FLAGS", [b"\\Seen", b"$Junk"],
                                  b"BODY[HEADER.FIELDS (FROM TO)]", b"abc", b"INTERNALDATE",
                                  b"01-Jan-2020 00:00:00 +0900"]], t
    assert tokenize([b'LIST (\\Noselect) "." NIL']) == [b"LIST", [b"\\Noselect"], b".", None]
    assert tokenize([b'LIST () "\\\\" "a\\"b"']) == [b"LIST", [], b"\\", b'a"b']
    assert internaldate_to_epoch(b"01-Jan-2020 09:00:00 +0900") == 1577836800
    assert internaldate_to_epoch(b" 1-Jan-2020 00:00:00 -0500") == 1577854800
    assert epoch_to_internaldate(1577836800, 540) == "01-Jan-2020 09:00:00 +0900"
    assert epoch_to_internaldate(1577836800, -210) == "31-Dec-2019 20:30:00 -0330"
    print("imaputil self-test: OK")


if __name__ == "__main__":
    _self_test()
