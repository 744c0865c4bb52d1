#!/usr/bin/env python3
"""check_dsn.py — validate a delivery status notification written by mailshift.

Usage: check_dsn.py FILE [FILE...]   (exit 0 when every file is valid)
       check_dsn.py --expect-rcpt ADDR --expect-status 5.1.1 FILE
           (also require a recipient block with that Final-Recipient address
            and, when given, that Status)

Independent of the C code: it reads the message with Python's email package
and checks what RFC 6522 / RFC 3464 (and RFC 6533) ask of a DSN:
  - wire form: CRLF line ends only, no NUL, lines <= 998 octets, 7-bit
    top-level header fields;
  - top level multipart/report; report-type=delivery-status, with the
    parser reporting no defects;
  - part 1 text/plain, part 2 message/delivery-status, optional part 3
    text/rfc822-headers or message/global-headers (nothing else);
  - the delivery-status part: a per-message block with Reporting-MTA
    (type; name), then one or more per-recipient blocks, each with
    Final-Recipient (type; address), Action (failed|delayed|delivered|
    relayed|expanded) and Status (class.subject.detail, class 2/4/5), and
    well-formed optional Remote-MTA / Diagnostic-Code / dates; the
    delivery-status part is 7-bit.
The integration tests run it on DSNs the relay really queued.
"""
import argparse
import email
import email.policy
import email.utils
import re
import sys

ACTIONS = {"failed", "delayed", "delivered", "relayed", "expanded"}
STATUS_RE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
TYPED_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)\s*;\s*(.*)$", re.S)


class Invalid(Exception):
    pass


def unfold(value):
    return re.sub(r"\r?\n[ \t]", " ", str(value)).strip()


def check_wire(data):
    if b"\0" in data:
        raise Invalid("NUL octet in the message")
    if not data.endswith(b"\r\n"):
        raise Invalid("the message does not end with CRLF")
    lines = data.split(b"\r\n")
    for n, line in enumerate(lines[:-1], 1):
        if b"\r" in line or b"\n" in line:
            raise Invalid("line %d: bare CR or LF" % n)
        if len(line) > 998:
            raise Invalid("line %d: %d octets (more than 998)" % (n, len(line)))
    head = data.split(b"\r\n\r\n", 1)[0]
    if any(b >= 0x80 for b in head):
        raise Invalid("8-bit octets in the top-level header fields")


def typed(name, value, types=None):
    m = TYPED_RE.match(unfold(value))
    if not m or not m.group(2).strip():
        raise Invalid("%s: '%s' is not 'type; value'" % (name, value))
    if types is not None and m.group(1).lower() not in types:
        raise Invalid("%s: type '%s' is not one of %s" % (name, m.group(1), sorted(types)))
    return m.group(1).lower(), m.group(2).strip()


def check_date(name, value):
    if email.utils.parsedate_tz(unfold(value)) is None:
        raise Invalid("%s: '%s' is not an RFC 5322 date" % (name, value))


def check_status_part(part):
    raw = part.as_bytes() if hasattr(part, "as_bytes") else b""
    blocks = part.get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise Invalid("message/delivery-status needs a per-message block and at least "
                      "one per-recipient block (got %d block(s))" %
                      (len(blocks) if isinstance(blocks, list) else 0))
    per_msg = blocks[0]
    if per_msg.get("Reporting-MTA") is None:
        raise Invalid("per-message block has no Reporting-MTA")
    typed("Reporting-MTA", per_msg["Reporting-MTA"], {"dns", "x-local-hostname"})
    if per_msg.get("Arrival-Date") is not None:
        check_date("Arrival-Date", per_msg["Arrival-Date"])
    rcpts = []
    for i, b in enumerate(blocks[1:], 1):
        for field in ("Final-Recipient", "Action", "Status"):
            if b.get(field) is None:
                raise Invalid("recipient block %d has no %s" % (i, field))
        rtype, addr = typed("Final-Recipient", b["Final-Recipient"], {"rfc822", "utf-8"})
        if rtype == "rfc822" and "@" not in addr and addr.lower() != "postmaster":
            raise Invalid("recipient block %d: Final-Recipient '%s' is not an address" %
                          (i, addr))
        action = unfold(b["Action"]).lower()
        if action not in ACTIONS:
            raise Invalid("recipient block %d: Action '%s' is not one of %s" %
                          (i, action, sorted(ACTIONS)))
        status = unfold(b["Status"])
        if not STATUS_RE.match(status):
            raise Invalid("recipient block %d: Status '%s' is not class.subject.detail" %
                          (i, status))
        if action == "failed" and status[0] == "2":
            raise Invalid("recipient block %d: Action failed with a success Status %s" %
                          (i, status))
        if b.get("Remote-MTA") is not None:
            typed("Remote-MTA", b["Remote-MTA"], {"dns"})
        if b.get("Diagnostic-Code") is not None:
            typed("Diagnostic-Code", b["Diagnostic-Code"])
        for d in ("Last-Attempt-Date", "Will-Retry-Until"):
            if b.get(d) is not None:
                check_date(d, b[d])
        rcpts.append({"type": rtype, "addr": addr, "action": action, "status": status,
                      "diagnostic": unfold(b.get("Diagnostic-Code", ""))})
    if any(c >= 0x80 for c in raw):
        raise Invalid("8-bit octets in the message/delivery-status part")
    return rcpts


def check(data):
    check_wire(data)
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    if msg.defects:
        raise Invalid("parser defects: %s" % msg.defects)
    if msg.get_content_type() != "multipart/report":
        raise Invalid("top level is %s, not multipart/report" % msg.get_content_type())
    if (msg.get_param("report-type") or "").lower() != "delivery-status":
        raise Invalid("report-type is '%s', not delivery-status" % msg.get_param("report-type"))
    for h in ("From", "To", "Subject", "Date", "Message-ID"):
        if msg.get(h) is None:
            raise Invalid("no %s header field" % h)
    check_date("Date", msg["Date"])
    if (msg.get("Auto-Submitted") or "").strip().lower() == "no":
        raise Invalid("Auto-Submitted: no on a DSN")
    parts = msg.get_payload()
    if not isinstance(parts, list) or len(parts) not in (2, 3):
        raise Invalid("multipart/report has %s parts; expected 2 or 3" %
                      (len(parts) if isinstance(parts, list) else "no"))
    for p in parts:
        if p.defects:
            raise Invalid("defects in a %s part: %s" % (p.get_content_type(), p.defects))
    if parts[0].get_content_type() != "text/plain":
        raise Invalid("first part is %s, not text/plain" % parts[0].get_content_type())
    if parts[1].get_content_type() != "message/delivery-status":
        raise Invalid("second part is %s, not message/delivery-status" %
                      parts[1].get_content_type())
    if len(parts) == 3 and parts[2].get_content_type() not in (
            "text/rfc822-headers", "message/global-headers", "message/rfc822",
            "message/global"):
        raise Invalid("third part is %s" % parts[2].get_content_type())
    rcpts = check_status_part(parts[1])
    return msg, rcpts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--expect-rcpt", action="append", default=[])
    ap.add_argument("--expect-status")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()
    bad = 0
    for f in args.files:
        try:
            with open(f, "rb") as fh:
                msg, rcpts = check(fh.read())
            for want in args.expect_rcpt:
                hit = [r for r in rcpts if r["addr"].lower() == want.lower()]
                if not hit:
                    raise Invalid("no recipient block for %s (have %s)" %
                                  (want, [r["addr"] for r in rcpts]))
                if args.expect_status and hit[0]["status"] != args.expect_status:
                    raise Invalid("%s: Status %s, expected %s" %
                                  (want, hit[0]["status"], args.expect_status))
            if not args.quiet:
                print("%s: ok: %d recipient(s): %s" % (f, len(rcpts), ", ".join(
                    "%s %s %s" % (r["addr"], r["action"], r["status"]) for r in rcpts)))
        except Invalid as e:
            print("%s: INVALID: %s" % (f, e), file=sys.stderr)
            bad += 1
        except OSError as e:
            print("%s: %s" % (f, e), file=sys.stderr)
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
